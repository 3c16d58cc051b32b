# Alert delivery wiring (issue #6): `weighbridge alerts ...` and the AlertSink that feeds the
# notifier. Included by app/CMakeLists.txt.
list(APPEND WB_APP_SRCS alerts_cmd.cc delivery.cc)
list(APPEND WB_APP_DEPS weighbridge::alerting)
# The history store's outbox makes pending deliveries survive a restart; without the store the
# outbox is in memory (docs/alerting.md).
if(TARGET weighbridge_store)
  list(APPEND WB_APP_DEPS weighbridge::store)
  set_source_files_properties(delivery.cc PROPERTIES COMPILE_DEFINITIONS WB_HAVE_STORE=1)
endif()
