// weighbridge: the command line. Parses arguments, loads the config, wires modules together.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "alerts_cmd.h"
#include "commands.h"
#include "history_cmd.h"
#include "run.h"

namespace {

constexpr const char* kUsage = R"(weighbridge — weighs bulk data crossing a data-centre edge

usage: weighbridge COMMAND [options]

commands:
  run --config FILE  the inline sensor: capture live traffic until stopped (SIGTERM)
  replay CAPTURE     account a pcap/pcapng file ("-" = standard input) and exit
  synth              write a synthetic capture of data-centre edge traffic
  demo               synthetic edge traffic through the whole pipeline, with a summary
  history WHAT       query the RocksDB history: transfers, alerts, flows, hosts, top
  alerts test        send a test alert to every configured receiver and report each result
  check-config FILE  validate a config file and print the effective configuration

Run `weighbridge COMMAND --help` for a command's options.
exit codes: 0 ok, 1 runtime failure, 2 bad usage, bad config or unreadable input
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("weighbridge %s\n", weighbridge::app::kVersion);
    return 0;
  }
  const std::string_view command = args[0];
  args.erase(args.begin());
  using namespace weighbridge::app;  // NOLINT(google-build-using-namespace): one dispatch table
  if (command == "run") return RunCommand(args);
  if (command == "replay") return ReplayCommand(args);
  if (command == "synth") return SynthCommand(args);
  if (command == "demo") return DemoCommand(args);
  if (command == "check-config") return CheckConfigCommand(args);
  if (command == "history") return HistoryCommand(args);
  if (command == "alerts") return AlertsCommand(args);
  std::fprintf(stderr, "weighbridge: unknown command '%.*s'\n\n%s",
               static_cast<int>(command.size()), command.data(), kUsage);
  return 2;
}
