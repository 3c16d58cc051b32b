# Flow-protocol inputs against real exporters (issue #8; docs/flow-protocols.md). The driver
# decodes flow datagrams with the capture module (replay source or live collector) and prints
# per-direction totals for the scripts to compare with the exporters' inputs.
add_executable(flowproto_driver flowproto_driver.cc)
target_link_libraries(flowproto_driver PRIVATE weighbridge::app nlohmann_json::nlohmann_json)
target_include_directories(flowproto_driver PRIVATE ${PROJECT_SOURCE_DIR}/app)
target_compile_options(flowproto_driver PRIVATE ${WB_WARNINGS})

wb_add_integration_test(flowproto_softflowd flowproto_softflowd.py
  LABELS needs_softflowd needs_tcpdump
  TIMEOUT 180
  ARGS --driver $<TARGET_FILE:flowproto_driver>)
wb_add_integration_test(flowproto_sflow flowproto_sflow.py
  LABELS needs_pmacct needs_tcpdump needs_tshark
  TIMEOUT 180
  ARGS --driver $<TARGET_FILE:flowproto_driver>)
wb_add_integration_test(flowproto_sampled flowproto_sampled.py
  TIMEOUT 180
  ARGS --driver $<TARGET_FILE:flowproto_driver>)
# These bind loopback UDP ports and run tcpdump on lo: not at the same time as each other.
set_tests_properties(integration.flowproto_softflowd integration.flowproto_sflow
  PROPERTIES RESOURCE_LOCK flowproto_lo)
wb_add_integration_test(flowproto_export flowproto_export.py
  LABELS needs_nfdump
  TIMEOUT 180)
