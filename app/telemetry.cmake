# Telemetry's wiring into app/ (included by app/CMakeLists.txt): the pipeline-to-snapshot bridge.
list(APPEND WB_APP_SRCS telemetry_bridge.cc)
list(APPEND WB_APP_DEPS weighbridge::telemetry)
