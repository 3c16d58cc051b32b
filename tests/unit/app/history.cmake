# `weighbridge history` (issue #4): its time parsing and queries, against a real RocksDB store.
add_executable(unit_app_history history_query_test.cc)
target_link_libraries(unit_app_history PRIVATE weighbridge::app GTest::gtest_main)
target_include_directories(unit_app_history PRIVATE ${PROJECT_SOURCE_DIR}/app)
target_compile_options(unit_app_history PRIVATE ${WB_WARNINGS})
gtest_discover_tests(unit_app_history DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "unit;app;history")
