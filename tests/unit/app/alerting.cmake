# app/ wiring of alert delivery (issue #6): its own executable, linking the app module.
add_executable(unit_app_alerting delivery_test.cc)
target_link_libraries(unit_app_alerting PRIVATE weighbridge::app GTest::gtest_main)
target_include_directories(unit_app_alerting PRIVATE ${PROJECT_SOURCE_DIR}/app
                                                     ${PROJECT_SOURCE_DIR}/tests/unit/alerting)
target_compile_options(unit_app_alerting PRIVATE ${WB_WARNINGS})
gtest_discover_tests(unit_app_alerting DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "unit;app;alerting")
