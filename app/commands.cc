#include "commands.h"

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "args.h"
#include "config.h"
#include "delivery.h"
#include "detect_setup.h"
#include "flowproto_wiring.h"
#include "replay.h"
#include "state_io.h"
#include "telemetry_bridge.h"
#include "weighbridge/capture/flow_replay.h"
#include "weighbridge/capture/pcap_source.h"
#include "weighbridge/capture/synth.h"
#include "weighbridge/store/history.h"
#include "weighbridge/store/sensor_state.h"
#include "weighbridge/telemetry/metrics.h"
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
                       built-in defaults, which know no site prefixes: everything is transit);
                       its sflow/ipfix/netflow sources decode datagrams to their ports, and its
                       export.ipfix collectors receive the flow records as IPFIX (exit 1 if a
                       message could not be sent)
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
  --db PATH            also write flows, transfers, alerts and rollups to the RocksDB history at
                       PATH (default: history.path of the config, if set); query it with
                       `weighbridge history`. Resumable: stopped by SIGINT/SIGTERM, the replay
                       saves its open transfers there instead of ending them, and the next replay
                       into the same PATH (the rest of the capture) continues them
  --deliver            also deliver the alerts to the config's webhooks and Alertmanagers (through
                       the durable outbox of the history, when there is one) and wait, at most
                       --deliver-wait (default 60s), until they are delivered; what is still
                       pending stays in the outbox (exit 1 if any is pending without a history)
  --deliver-wait D     how long --deliver waits for the receivers
  --metrics LISTEN     serve Prometheus metrics at LISTEN (e.g. 127.0.0.1:9477) while replaying
  --linger D           with --metrics: keep serving this long after the end (e.g. 30s), so a
                       scrape sees the final counts
  --no-progress        no progress line on a terminal

exit codes: 0 the whole capture was read; 1 reading stopped early (the summary's input_error
says why; everything read before it is accounted and written); 2 bad usage, bad config or a
capture that cannot be opened.
)";

}  // namespace

int ReplayCommand(std::span<const std::string_view> argv) {
  Args args(argv,
            {"--config", "--flows-out", "--transfers-out", "--summary-json", "--workers", "--via",
             "--speed", "--alerts-out", "--db", "--metrics", "--linger", "--deliver-wait"},
            {"--help", "--no-progress", "--deliver"});
  if (args.Has("--help")) {
    std::fputs(kReplayUsage, stdout);
    return kExitOk;
  }
  if (!args.error().empty()) return Usage(kReplayUsage, args.error());
  if (args.positionals().size() != 1)
    return Usage(kReplayUsage, "replay needs exactly one CAPTURE");
  double speed = 0;
  if (const auto text = args.Value("--speed")) {
    if (!ParseSpeed(*text, &speed)) {
      return Usage(
          kReplayUsage,
          "--speed: \"" + *text + "\" is not max, realtime or a positive number (times real time)");
    }
  }
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
  // With an sflow / ipfix / netflow source in the config, datagrams to its port are decoded as
  // that protocol (ARCHITECTURE.md "Flow protocols in a replay"): sampled packets come out of the
  // source, flow records join the merger as one more producer.
  capture::FlowProtocolReplaySource* flow_source = nullptr;
  SflowInterfaceBook sflow_interfaces;  // sFlow counter samples, for --metrics
  if (HasFlowProtocolSources(config)) {
    if (via != "pcap") {
      return Usage(kReplayUsage, "--via dpdk cannot decode flow protocols (use --via pcap)");
    }
    auto opened = capture::FlowProtocolReplaySource::Open(path, FlowReplayOptionsFromConfig(config),
                                                          config.decode, nullptr);
    if (opened.ok()) {
      flow_source = opened->get();
      source = std::unique_ptr<capture::PacketSource>(std::move(*opened));
    } else {
      source = opened.status();
    }
    options.outputs.take_flow_updates =
        [&flow_source, &site, &sflow_interfaces](std::vector<analytics::FlowUpdate>* out) {
          sflow_interfaces.Update(flow_source->TakeInterfaceCounters());
          for (const capture::FlowRecord& r : flow_source->TakeFlowRecords()) {
            analytics::FlowUpdate u = ToFlowUpdate(r, site);
            // A record arrives after its flow's last packet: its event time is its arrival, so the
            // merger sees flow-record updates in capture order like every other producer's.
            u.at = std::max(u.at, r.received);
            out->push_back(u);
          }
        };
  } else if (via == "pcap") {
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
  std::int64_t linger_ns = 0;
  std::int64_t deliver_wait_ns = 60 * kNanosPerSecond;
  for (const auto& [flag, out] : {std::pair<const char*, std::int64_t*>{"--linger", &linger_ns},
                                  {"--deliver-wait", &deliver_wait_ns}}) {
    if (const auto text = args.Value(flag)) {
      if (const std::string why = ParseDuration(*text, out); !why.empty()) {
        return Usage(kReplayUsage, std::string(flag) + ": " + why);
      }
    }
  }
  if (args.Value("--linger") && !args.Value("--metrics")) {
    return Usage(kReplayUsage, "--linger needs --metrics");
  }

  // ---- optional outputs. Declared in this order so that they are torn down in reverse: the
  // delivery and the writer stop before the database closes, the bridge before the metrics.
  std::unique_ptr<store::History> history;
  std::unique_ptr<store::HistoryWriter> writer;
  const std::string db_path = args.Value("--db").value_or(config.history.path);
  if (!db_path.empty()) {
    store::HistoryOptions ho = HistoryOptionsFrom(config, db_path);
    ho.block_when_full = true;               // a replay's history is complete: the reader waits
    ho.sync = store::SyncPolicy::kInterval;  // the final Flush() syncs before the exit
    auto opened = store::History::Open(ho);
    if (!opened.ok()) {
      std::fprintf(stderr, "weighbridge: history: %s\n", opened.error().c_str());
      return kExitFailure;
    }
    history = std::move(*opened);
    writer = std::make_unique<store::HistoryWriter>(*history, ho);
    options.outputs.flow_sinks.push_back(writer.get());
    options.outputs.transfer_sinks.push_back(writer.get());
    options.outputs.alert_sinks.push_back(writer.get());
    // Resumable: a replay stopped by a signal saves its open transfers and detector state, and
    // the next replay into the same history (the rest of the capture) continues them; a replay
    // that reads to the end saves what outlives it (train_and_return's memory).
    options.on_start = [&history](analytics::Sessionizer* s, analytics::DetectorEngine* e) {
      if (const Status st = RestoreSensorState(*history, s, e); !st.ok()) {
        std::fprintf(stderr, "weighbridge: history: state not restored: %s\n",
                     st.message().c_str());
      }
    };
    options.on_end = [&writer](const analytics::Sessionizer& s, const analytics::DetectorEngine& e,
                               bool /*interrupted*/) {
      writer->SaveState(std::string(store::kSensorStateName), EncodeSensorState(s, e));
      return true;
    };
  }
  std::unique_ptr<AlertDelivery> delivery;
  if (args.Has("--deliver")) {
    if (config.alerts.webhooks.empty() && config.alerts.alertmanager.empty()) {
      return Usage(kReplayUsage,
                   "--deliver: the config has no alerts.webhooks or alerts.alertmanager");
    }
    auto started = AlertDelivery::Start(config, history.get());
    if (!started.ok()) {
      std::fprintf(stderr, "weighbridge: --deliver: %s\n", started.error().c_str());
      return kExitUsage;
    }
    delivery = std::move(*started);
    options.outputs.alert_sinks.push_back(delivery.get());
  }
  std::vector<std::unique_ptr<flowexport::IpfixExporter>> exporters;
  {
    auto opened = OpenIpfixExporters(config);
    if (!opened.ok()) {
      std::fprintf(stderr, "weighbridge: export: %s\n", opened.error().c_str());
      return kExitFailure;
    }
    exporters = std::move(*opened);
    for (const auto& e : exporters) options.outputs.flow_sinks.push_back(e.get());
  }
  std::unique_ptr<telemetry::Metrics> metrics;
  std::unique_ptr<MeteredSource> metered;
  std::unique_ptr<ReplayTelemetry> bridge;
  capture::PacketSource* read_from = source->get();
  if (const auto listen = args.Value("--metrics")) {
    metrics = std::make_unique<telemetry::Metrics>(MetricsOptionsFrom(config, kVersion));
    metered = std::make_unique<MeteredSource>(source->get(), metrics.get());
    bridge = std::make_unique<ReplayTelemetry>(metrics.get(), options.detect, options.pipeline,
                                               metered.get());
    bridge->Attach(&options);
    bridge->SetExtraFill(
        [flow_source, &sflow_interfaces, &exporters](telemetry::PipelineSnapshot* out) {
          if (flow_source != nullptr) {
            for (std::size_t i = 0; i < flow_source->input_count(); ++i) {
              const capture::FlowDatagramDecoder& in = flow_source->input(i);
              AddFlowInputToSnapshot(FlowInputName(in.options()), in.counters(), out);
            }
            sflow_interfaces.AddToSnapshot(out);
          }
          AddExportsToSnapshot(exporters, out);
        });
    if (const Status st = metrics->Serve(*listen); !st.ok()) {
      std::fprintf(stderr, "weighbridge: --metrics: %s\n", st.message().c_str());
      return kExitFailure;
    }
    read_from = metered.get();
  }

  InstallStopHandlers();
  ReplayResult result = RunReplay(*read_from, options, g_stop);
  if (flow_source != nullptr) {
    // `frames` is every record read: the flow datagrams too (the decoder saw only the rest).
    result.summary.frames += flow_source->flow_datagrams();
    ReplaySummary::FlowProtocols fp;
    std::array<std::uint64_t, capture::kFlowDropReasonCount> dropped{};
    for (std::size_t i = 0; i < flow_source->input_count(); ++i) {
      const capture::FlowProtocolCounters& c = flow_source->input(i).counters();
      fp.datagrams += c.datagrams.Get();
      fp.datagrams_dropped += c.datagrams_dropped.Get();
      fp.flow_records += c.flow_records.Get();
      fp.sampled_packets += c.sampled_packets.Get();
      fp.counter_samples += c.counter_samples.Get();
      for (std::size_t r = 0; r < dropped.size(); ++r) dropped[r] += c.dropped[r].Get();
    }
    for (std::size_t r = 0; r < dropped.size(); ++r) {
      fp.dropped.emplace_back(
          std::string(capture::ReasonName(static_cast<capture::FlowDropReason>(r))), dropped[r]);
    }
    result.summary.flow_protocols = std::move(fp);
  }
  bool outputs_ok = true;
  for (const auto& e : exporters) {
    if (const Status st = e->Flush(); !st.ok()) {
      std::fprintf(stderr, "weighbridge: %s (%llu messages not sent)\n", st.message().c_str(),
                   static_cast<unsigned long long>(e->send_errors()));
      outputs_ok = false;
    }
  }
  if (writer) {
    writer->Stop();
    if (const Status st = writer->Flush(); !st.ok()) {
      std::fprintf(stderr, "weighbridge: history: %s\n", st.message().c_str());
      outputs_ok = false;
    }
    const store::HistoryWriter::Stats hs = writer->stats();
    if (hs.queue_drops > 0 || hs.write_errors > 0) {
      std::fprintf(stderr, "weighbridge: history: %llu records dropped, %llu write errors\n",
                   static_cast<unsigned long long>(hs.queue_drops),
                   static_cast<unsigned long long>(hs.write_errors));
      outputs_ok = false;
    }
  }
  if (delivery) {
    const DeliveryReport rep =
        delivery->WaitIdle(std::chrono::milliseconds(deliver_wait_ns / 1'000'000));
    std::fprintf(stderr, "weighbridge: --deliver: %llu delivered, %llu pending, %llu dead\n",
                 static_cast<unsigned long long>(rep.delivered),
                 static_cast<unsigned long long>(rep.pending),
                 static_cast<unsigned long long>(rep.dead));
    delivery->Stop();
    // Pending deliveries in a durable outbox are queued, not lost: the next start resumes them.
    if (rep.dead > 0 || (rep.pending > 0 && !history)) outputs_ok = false;
  }
  if (metrics && linger_ns > 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(linger_ns);
    while (std::chrono::steady_clock::now() < until && !g_stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!WriteOutputs(result, site.tenant_names(), args.Value("--flows-out"),
                    args.Value("--transfers-out"), args.Value("--alerts-out"),
                    args.Value("--summary-json"))) {
    return kExitFailure;
  }
  if (result.summary.input_error) {
    std::fprintf(stderr, "weighbridge: %s\n", result.summary.input_error->c_str());
    return kExitFailure;
  }
  return outputs_ok ? kExitOk : kExitFailure;
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
