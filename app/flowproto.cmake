# Flow-protocol inputs (issue #8): config -> capture options, flow records -> flow updates.
list(APPEND WB_APP_SRCS flowproto_wiring.cc)
