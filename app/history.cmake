# `weighbridge history` (issue #4): the query command over the RocksDB history store.
list(APPEND WB_APP_SRCS history_cmd.cc history_query.cc)
list(APPEND WB_APP_DEPS weighbridge::store)
