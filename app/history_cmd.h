// `weighbridge history transfers|alerts|flows|hosts|top ...`: queries the RocksDB history
// (issue #4, docs/history.md). Opens the database read-only beside a running writer.
#pragma once

#include <span>
#include <string_view>

namespace weighbridge::app {

int HistoryCommand(std::span<const std::string_view> args);

}  // namespace weighbridge::app
