#include "commands.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "args.h"
#include "config.h"
#include "detect_setup.h"
#include "replay.h"
#include "weighbridge/capture/pcap_source.h"
#include "weighbridge/capture/synth.h"
#if defined(WB_WITH_DPDK)
#include "weighbridge/capture/dpdk_source.h"
#endif

namespace weighbridge::app {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int /*signo*/) {
  g_stop.store(true, std::memory_order_relaxed);
}

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int Usage(const char* text, const std::string& error) {
  std::fprintf(stderr, "weighbridge: %s\n\n%s", error.c_str(), text);
  return kExitUsage;
}

// Loads --config when given, else the defaults. Prints every problem and returns false.
bool LoadConfigOrDefaults(const std::optional<std::string>& path, Config* out) {
  if (!path) {
    *out = DefaultConfig();
    return true;
  }
  auto loaded = LoadConfigFile(*path);
  if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
    for (const std::string& line : errors->lines) std::fprintf(stderr, "%s\n", line.c_str());
    return false;
  }
  *out = std::get<Config>(std::move(loaded));
  return true;
}

// Opens an output file; "-" is standard output. Returns nullptr (after printing why) on failure.
class Output {
 public:
  bool Open(const std::string& path) {
    if (path == "-") {
      out_ = &std::cout;
      return true;
    }
    file_.open(path, std::ios::out | std::ios::trunc);
    if (!file_) {
      std::fprintf(stderr, "weighbridge: cannot write %s: %s\n", path.c_str(),
                   std::strerror(errno));
      return false;
    }
    out_ = &file_;
    return true;
  }
  std::ostream& stream() { return *out_; }
  bool Close(const std::string& path) {
    out_->flush();
    if (!*out_) {
      std::fprintf(stderr, "weighbridge: error writing %s\n", path.c_str());
      return false;
    }
    if (file_.is_open()) file_.close();
    return true;
  }

 private:
  std::ofstream file_;
  std::ostream* out_ = nullptr;
};

bool WriteOutputs(const ReplayResult& r, const std::vector<std::string>& tenant_names,
                  const std::optional<std::string>& flows_out,
                  const std::optional<std::string>& transfers_out,
                  const std::optional<std::string>& alerts_out,
                  const std::optional<std::string>& summary_out) {
  bool ok = true;
  if (alerts_out) {
    Output o;
    if (!o.Open(*alerts_out)) return false;
    for (const analytics::Alert& a : r.alerts) o.stream() << AlertJson(a) << '\n';
    ok = o.Close(*alerts_out) && ok;
  }
  if (transfers_out) {
    Output o;
    if (!o.Open(*transfers_out)) return false;
    for (const analytics::Transfer& t : r.transfers)
      o.stream() << TransferJson(t, tenant_names) << '\n';
    ok = o.Close(*transfers_out) && ok;
  }
  if (flows_out) {
    Output o;
    if (!o.Open(*flows_out)) return false;
    for (const FlowLine& f : r.flows) o.stream() << FlowLineJson(f) << '\n';
    ok = o.Close(*flows_out) && ok;
  }
  if (summary_out) {
    Output o;
    if (!o.Open(*summary_out)) return false;
    o.stream() << SummaryJson(r.summary) << '\n';
    ok = o.Close(*summary_out) && ok;
  }
  return ok;
}

// "max" -> 0, "realtime" -> 1, else a positive finite number.
bool ParseSpeed(const std::string& text, double* speed) {
  if (text == "max") {
    *speed = 0;
    return true;
  }
  if (text == "realtime") {
    *speed = 1;
    return true;
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(v > 0) || v > 1e9) return false;
  *speed = v;
  return true;
}

constexpr const char* kReplayUsage = R"(usage: weighbridge replay CAPTURE [options]

Accounts every packet of a pcap or pcapng file (CAPTURE "-" reads standard input) and exits.

options:
  --config FILE        site prefixes, decode, pipeline and detector settings (default: the
                       built-in defaults, which know no site prefixes: everything is transit)
  --flows-out FILE     one JSON line per bidirectional flow ("-" = standard output)
  --transfers-out FILE one JSON line per transfer: flows between an inside host and an external
                       peer group (its /24 or /48) with gaps under detect.weight_transfer.gap
  --alerts-out FILE    one JSON line per alert version (weight_transfer, dataset_ingest,
                       staging_ingest, train_and_return), in the order they were raised
  --summary-json FILE  totals, per-direction counts, decode errors by reason ("-" = stdout)
  --workers N          shard workers (default: pipeline.workers); results do not depend on it
                       unless the flow table fills and evicts (each shard evicts on its own)
  --via pcap|dpdk      read with libpcap (default) or through DPDK's net_pcap virtual device
                       (root; net_pcap keeps only captured lengths: use full-frame captures)
  --speed max|realtime|N  as fast as possible (default), at the capture's own pace, or N times
                       that pace, so that scrapes and receivers see the replay as live traffic
  --no-progress        no progress line on a terminal

exit codes: 0 the whole capture was read; 1 reading stopped early (the summary's input_error
says why; everything read before it is accounted and written); 2 bad usage, bad config or a
capture that cannot be opened.
)";

}  // namespace

int ReplayCommand(std::span<const std::string_view> argv) {
  Args args(argv,
            {"--config", "--flows-out", "--transfers-out", "--summary-json", "--workers", "--via",
             "--speed", "--alerts-out", "--db"},
            {"--help", "--no-progress", "--deliver"});
  if (args.Has("--help")) {
    std::fputs(kReplayUsage, stdout);
    return kExitOk;
  }
  if (!args.error().empty()) return Usage(kReplayUsage, args.error());
  if (args.positionals().size() != 1)
    return Usage(kReplayUsage, "replay needs exactly one CAPTURE");
  if (args.Value("--db")) return Usage(kReplayUsage, "--db is not available in this build yet");
  double speed = 0;
  if (const auto text = args.Value("--speed")) {
    if (!ParseSpeed(*text, &speed)) {
      return Usage(
          kReplayUsage,
          "--speed: \"" + *text + "\" is not max, realtime or a positive number (times real time)");
    }
  }
  if (args.Has("--deliver"))
    return Usage(kReplayUsage, "--deliver is not available in this build yet");
  const auto workers = args.Unsigned("--workers", 1, 64);
  if (!args.error().empty()) return Usage(kReplayUsage, args.error());

  Config config;
  if (!LoadConfigOrDefaults(args.Value("--config"), &config)) return kExitUsage;
  ReplayOptions options;
  options.pipeline = config.pipeline;
  options.sessionizer = SessionizerOptionsFrom(config);
  options.detect = DetectOptionsFrom(config);
  auto catalog = LoadCatalogFor(config, args.Value("--config"));
  if (!catalog.ok()) {
    std::fprintf(stderr, "weighbridge: model catalog: %s\n", catalog.error().c_str());
    return kExitUsage;
  }
  options.catalog = &*catalog;
  if (workers) options.pipeline.workers = static_cast<unsigned>(*workers);
  options.progress = !args.Has("--no-progress");
  options.speed = speed;
  options.keep_flows = args.Value("--flows-out").has_value();
  options.keep_transfers = args.Value("--transfers-out").has_value();

  // Direction and tenant are found once per flow by the shard workers, not per packet here.
  const capture::SiteClassifier site(config.site);
  options.pipeline.site = &site;
  const std::string& path = args.positionals()[0];
  const std::string via = args.Value("--via").value_or("pcap");
  Result<std::unique_ptr<capture::PacketSource>> source =
      Status::Error("--via must be pcap or dpdk, not \"" + via + "\"");
  if (via == "pcap") {
    source = capture::OpenPcapFile(path, config.decode, nullptr);
  } else if (via == "dpdk") {
#if defined(WB_WITH_DPDK)
    source = capture::OpenDpdkPcapReplay(path, config.decode, nullptr);
#else
    source = Status::Error("--via dpdk: this build has no DPDK support");
#endif
  }
  if (!source.ok()) {
    std::fprintf(stderr, "weighbridge: %s\n", source.error().c_str());
    return kExitUsage;
  }
  InstallStopHandlers();
  const ReplayResult result = RunReplay(**source, options, g_stop);
  if (!WriteOutputs(result, site.tenant_names(), args.Value("--flows-out"),
                    args.Value("--transfers-out"), args.Value("--alerts-out"),
                    args.Value("--summary-json"))) {
    return kExitFailure;
  }
  if (result.summary.input_error) {
    std::fprintf(stderr, "weighbridge: %s\n", result.summary.input_error->c_str());
    return kExitFailure;
  }
  return kExitOk;
}

namespace {

constexpr const char* kSynthUsage =
    R"(usage: weighbridge synth --scenario NAME --out FILE.pcap [options]

Writes a deterministic synthetic capture of data-centre edge traffic, and beside it the
generator's own per-flow truth (the --flows-out format) for tests.

options:
  --scenario NAME   which traffic (see --list)
  --out FILE        the capture to write (pcap, nanosecond timestamps)
  --truth FILE      the truth file (default: FILE with .truth.jsonl appended; "none" = no truth)
  --seed N          random seed (default 1); the same seed gives the same bytes
  --snaplen N       keep only the first N bytes of each frame (header-only captures)
  --scale X         multiply transfer sizes and background volume (default 1)
  --list            list the scenarios and exit
)";

}  // namespace

int SynthCommand(std::span<const std::string_view> argv) {
  Args args(argv, {"--scenario", "--out", "--truth", "--seed", "--snaplen", "--scale"},
            {"--help", "--list"});
  if (args.Has("--help")) {
    std::fputs(kSynthUsage, stdout);
    return kExitOk;
  }
  if (!args.error().empty()) return Usage(kSynthUsage, args.error());
  if (args.Has("--list")) {
    for (const auto& s : capture::SynthScenarios()) {
      std::printf("%-16s %s\n", s.name.c_str(), s.description.c_str());
    }
    return kExitOk;
  }
  capture::SynthOptions options;
  const auto scenario = args.Value("--scenario");
  const auto out = args.Value("--out");
  if (!scenario || !out) return Usage(kSynthUsage, "synth needs --scenario and --out");
  options.scenario = *scenario;
  if (auto seed = args.Unsigned("--seed", 0, UINT64_MAX)) options.seed = *seed;
  if (auto snaplen = args.Unsigned("--snaplen", 60, 262144)) {
    options.snaplen = static_cast<std::uint32_t>(*snaplen);
  }
  if (auto scale = args.Value("--scale")) {
    char* end = nullptr;
    options.scale = std::strtod(scale->c_str(), &end);
    if (end == scale->c_str() || *end != '\0' || !(options.scale > 0) || options.scale > 1e6) {
      return Usage(kSynthUsage, "--scale: \"" + *scale + "\" is not a positive number");
    }
  }
  if (!args.error().empty()) return Usage(kSynthUsage, args.error());
  std::string truth = args.Value("--truth").value_or(*out + ".truth.jsonl");
  if (truth == "none") truth.clear();
  const Status st = capture::WriteSynthCapture(options, *out, truth);
  if (!st.ok()) {
    std::fprintf(stderr, "weighbridge: synth: %s\n", st.message().c_str());
    return st.message().find("unknown scenario") != std::string::npos ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

int CheckConfigCommand(std::span<const std::string_view> argv) {
  Args args(argv, {}, {"--help"});
  constexpr const char* kUsageText =
      "usage: weighbridge check-config FILE\n\nValidates FILE and prints the effective "
      "configuration, defaults filled in.\nexit codes: 0 valid, 2 invalid (one line per problem)\n";
  if (args.Has("--help")) {
    std::fputs(kUsageText, stdout);
    return kExitOk;
  }
  if (!args.error().empty()) return Usage(kUsageText, args.error());
  if (args.positionals().size() != 1) return Usage(kUsageText, "check-config needs one FILE");
  Config config;
  if (!LoadConfigOrDefaults(args.positionals()[0], &config)) return kExitUsage;
  // The model catalogs are part of the configuration: a broken one must fail here, not at start.
  if (auto catalog = LoadCatalogFor(config, args.positionals()[0]); !catalog.ok()) {
    std::fprintf(stderr, "%s\n", catalog.error().c_str());
    return kExitUsage;
  }
  std::fputs(ExplainConfig(config).c_str(), stdout);
  return kExitOk;
}

}  // namespace weighbridge::app
