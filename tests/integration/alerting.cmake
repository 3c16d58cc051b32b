# Alert delivery (issue #6): real receivers on loopback. Python webhook receivers check every
# signature with Python's own hmac; Alertmanager is Debian's prometheus-alertmanager.
if(TARGET alerting_delivery_driver)
  set(WB_ALERTING_DRIVER $<TARGET_FILE:alerting_delivery_driver>)
else()
  set(WB_ALERTING_DRIVER ${PROJECT_BINARY_DIR}/alerting_delivery_driver-not-built)
endif()
wb_add_integration_test(alerting_webhooks alerting_webhooks.py TIMEOUT 120
  LABELS needs_openssl ARGS --driver ${WB_ALERTING_DRIVER})
wb_add_integration_test(alerting_alertmanager alerting_alertmanager.py TIMEOUT 120
  LABELS needs_alertmanager ARGS --driver ${WB_ALERTING_DRIVER})
wb_add_integration_test(alerting_restart alerting_restart.py TIMEOUT 120
  ARGS --driver ${WB_ALERTING_DRIVER})
wb_add_integration_test(alerting_replay_deliver alerting_replay_deliver.py TIMEOUT 300)
