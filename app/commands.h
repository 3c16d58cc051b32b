// The subcommands of the weighbridge binary. Each returns the process exit code:
// 0 ok, 1 runtime failure, 2 bad usage, bad config or unreadable input.
#pragma once

#include <span>
#include <string_view>

namespace weighbridge::app {

inline constexpr const char* kVersion = "0.1.0";

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int ReplayCommand(std::span<const std::string_view> args);
int SynthCommand(std::span<const std::string_view> args);
int DemoCommand(std::span<const std::string_view> args);
int CheckConfigCommand(std::span<const std::string_view> args);

}  // namespace weighbridge::app
