# History store (issue #4): crash safety of the writer, and history == replay's own outputs.
wb_add_integration_test(history_crash history_crash.py
  ARGS --tool $<TARGET_FILE:history_tool>
  TIMEOUT 600)
wb_add_integration_test(history_roundtrip history_roundtrip.py TIMEOUT 600)
