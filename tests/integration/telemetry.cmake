# Telemetry (issue #5): the metrics scraped by a real Prometheus and every dashboard panel's query
# run against it; the Prometheus rules with promtool. Included by tests/integration/CMakeLists.txt.
wb_add_integration_test(telemetry_prometheus telemetry_prometheus.py
  LABELS needs_prometheus
  TIMEOUT 120
  ARGS --source-dir ${PROJECT_SOURCE_DIR} --driver $<TARGET_FILE:telemetry_driver>)

wb_add_integration_test(telemetry_rules telemetry_rules.py
  LABELS needs_prometheus
  TIMEOUT 120
  ARGS --source-dir ${PROJECT_SOURCE_DIR})
