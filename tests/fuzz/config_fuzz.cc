// libFuzzer target for the config loader: arbitrary text must give either a Config or error
// lines, never a crash, hang or sanitizer report. When it gives a Config, check-config's
// explanation of it must load back to an equal Config (the round trip the unit test checks on
// hand-written configs), and every error line must start with the name and a position or ": ".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

// app/ headers are private to the binary, so the path is relative to this file.
#include "config.h"

namespace app = weighbridge::app;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Larger inputs only slow the search; LoadConfigFile refuses files over 1 MiB anyway.
  if (size > 64 * 1024) return -1;
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // bytes as text
  auto result = app::LoadConfigText(text, "fuzz.yaml");
  if (const auto* errors = std::get_if<app::ConfigErrors>(&result)) {
    if (errors->lines.empty()) std::abort();
    for (const auto& line : errors->lines) {
      if (line.rfind("fuzz.yaml:", 0) != 0) std::abort();
    }
    return 0;
  }
  const app::Config& config = std::get<app::Config>(result);
  auto again = app::LoadConfigText(app::ExplainConfig(config), "explained.yaml");
  if (!std::holds_alternative<app::Config>(again) || !(std::get<app::Config>(again) == config)) {
    std::abort();
  }
  return 0;
}
