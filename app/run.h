// `weighbridge run`: the daemon.
#pragma once

#include <span>
#include <string_view>

namespace weighbridge::app {

int RunCommand(std::span<const std::string_view> args);

}  // namespace weighbridge::app
