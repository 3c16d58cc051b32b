# sFlow v5, IPFIX, NetFlow v9/v5 inputs (issue #8): parsers, the flow-protocol replay source and
# the live UDP collector (Boost.Asio, header-only).
find_package(Boost 1.74 REQUIRED)
list(APPEND WB_CAPTURE_SRCS sflow.cc ipfix.cc netflow_v5.cc flow_collector.cc flow_replay.cc)
list(APPEND WB_CAPTURE_DEPS Boost::headers)
# GCC 12 at -O2 reports "potential null pointer dereference" inside Asio's scheduler
# (boost/asio/detail/impl/scheduler.ipp) once it is inlined; a middle-end warning that a pragma
# around the includes does not reach (as in alerting/http_client.cc). Only this file is exempt.
set_source_files_properties(flow_collector.cc PROPERTIES COMPILE_OPTIONS -Wno-null-dereference)
