# sFlow / IPFIX / NetFlow parser and replay-source tests, in the capture module's one test binary.
target_sources(unit_capture PRIVATE sflow_test.cc ipfix_test.cc netflow_test.cc flow_replay_test.cc)
