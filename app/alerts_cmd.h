// `weighbridge alerts ...`: commands about alert delivery.
#pragma once

#include <string_view>
#include <vector>

namespace weighbridge::app {

// `alerts test --config FILE`: one test alert to each configured receiver, one line per receiver
// with the result. Exit 0 only when every receiver accepted it; 1 when one did not; 2 for bad
// usage or config.
int AlertsCommand(std::vector<std::string_view> args);

}  // namespace weighbridge::app
