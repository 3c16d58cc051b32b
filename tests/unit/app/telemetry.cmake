# app/telemetry_bridge: the pipeline-to-metrics wiring, through the real replay.
add_executable(unit_app_telemetry ${CMAKE_CURRENT_LIST_DIR}/telemetry_bridge_test.cc)
target_link_libraries(unit_app_telemetry PRIVATE weighbridge::app GTest::gtest_main)
target_include_directories(unit_app_telemetry PRIVATE ${PROJECT_SOURCE_DIR}/app)
target_compile_options(unit_app_telemetry PRIVATE ${WB_WARNINGS})
gtest_discover_tests(unit_app_telemetry DISCOVERY_TIMEOUT 60
                     PROPERTIES LABELS "unit;app;telemetry")
