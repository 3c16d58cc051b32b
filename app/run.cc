// `weighbridge run`: the inline sensor as a long-running service. Live sources from the config,
// one capture thread and one sharded pipeline per source, one merger and one detector chain for
// all of them, and the outputs (alert log, history, metrics, delivery). Signals: SIGTERM/SIGINT
// stop and flush; SIGHUP reloads thresholds, allow lists and the catalog and reopens the alert log.
#include "run.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "delivery.h"
#include "detect_setup.h"
#include "flow_output.h"
#include "flowproto_wiring.h"
#include "health.h"
#include "log.h"
#include "pacer.h"
#include "state_io.h"
#include "telemetry_bridge.h"
#include "weighbridge/analytics/pipeline.h"
#include "weighbridge/analytics/update_merger.h"
#include "weighbridge/capture/flow_collector.h"
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

constexpr std::size_t kBurst = 256;
// A silent source tells its shards that time moves on this often (wall time), so flows still
// idle out and transfers still end while a link is quiet.
constexpr auto kHeartbeatEvery = std::chrono::milliseconds(200);
// The longest shutdown waits for alert receivers before leaving the rest in the outbox.
constexpr auto kShutdownDeliveryWait = std::chrono::seconds(5);

std::int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One capture source with its own pipeline and capture thread.
struct SourceRunner {
  std::string name;
  std::unique_ptr<capture::PacketSource> source;
  std::unique_ptr<analytics::ShardedPipeline> pipeline;
  double speed = 0;  // synth sources are paced in real time, as a live link would be
  // Live links drop and count when a shard falls behind (never stall the capture thread); a
  // generator waits instead: its packets are not lost to anything but our own slowness.
  analytics::Backpressure backpressure = analytics::Backpressure::kDrop;
  std::thread thread;
  std::atomic<bool> running{false};
  std::atomic<std::int64_t> newest_ns{0};  // stream time of the newest packet (0: none yet)
  // Flow-protocol collectors: their flow records (IPFIX, NetFlow) go to the merger through this
  // inbox of their own, as flow updates, from the capture thread.
  capture::FlowCollector* collector = nullptr;
  analytics::FlowSink* record_inbox = nullptr;
  const capture::SiteClassifier* site = nullptr;
  SflowInterfaceBook* interfaces = nullptr;  // sFlow counter samples, for metrics
};

void CaptureLoop(SourceRunner* r, const std::atomic<bool>* stop) {
  pthread_setname_np(pthread_self(), "wb-capture");
  std::vector<capture::PacketMeta> burst(kBurst);
  std::int64_t last_ts = 0;
  bool any = false;
  auto wall_at_last = std::chrono::steady_clock::now();
  auto last_heartbeat = wall_at_last;
  Pacer pacer(r->speed);
  bool ended = false;
  while (!stop->load(std::memory_order_relaxed)) {
    capture::PollResult res;
    if (!ended) res = r->source->Poll(burst);
    const auto now = std::chrono::steady_clock::now();
    if (res.packets > 0) {
      std::span<const capture::PacketMeta> packets(burst.data(), res.packets);
      any = true;
      if (pacer.enabled()) {
        DispatchPaced(*r->pipeline, packets, pacer, *stop);
      } else {
        r->pipeline->Dispatch(packets);
      }
      last_ts = std::max(last_ts, burst[res.packets - 1].ts.ns);
      r->newest_ns.store(last_ts, std::memory_order_relaxed);
      wall_at_last = std::chrono::steady_clock::now();
      last_heartbeat = wall_at_last;
    } else if (now - last_heartbeat >= kHeartbeatEvery) {
      // Stream time moves with the wall clock while the link is silent.
      const std::int64_t since = std::chrono::nanoseconds(now - wall_at_last).count();
      const std::int64_t est = any ? last_ts + since : WallNowNs();
      r->pipeline->Heartbeat(StreamTime::FromNanos(est));
      if (r->record_inbox != nullptr) r->record_inbox->OnWatermark(StreamTime::FromNanos(est));
      last_heartbeat = now;
    }
    if (r->collector != nullptr) {
      for (const capture::FlowRecord& rec : r->collector->TakeFlowRecords()) {
        analytics::FlowUpdate u = ToFlowUpdate(rec, *r->site);
        // Event time is arrival, as in a replay: flow records in arrival order.
        u.at = std::max(u.at, rec.received);
        last_ts = std::max(last_ts, u.at.ns);
        any = true;
        r->record_inbox->OnFlowUpdate(u);
      }
      if (any) r->record_inbox->OnWatermark(StreamTime::FromNanos(last_ts));
      r->newest_ns.store(last_ts, std::memory_order_relaxed);
      // Taken every time, kept only as the latest per interface: they pile up otherwise.
      const std::vector<capture::SflowInterfaceCounters> ifs =
          r->collector->TakeInterfaceCounters();
      if (r->interfaces != nullptr) r->interfaces->Update(ifs);
    }
    if (!ended && res.state == capture::PollResult::State::kEnd) {
      Log(LogLevel::kInfo, "source_ended", "capture source reached its end", {{"source", r->name}});
      ended = true;
    } else if (!ended && res.state == capture::PollResult::State::kError) {
      Log(LogLevel::kError, "source_failed", res.error, {{"source", r->name}});
      ended = true;
    }
    if (ended) {
      r->running.store(false, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  r->running.store(false, std::memory_order_relaxed);
}

// The JSON-lines alert log: one line per alert version, flushed per line; Reopen() for rotation.
class AlertLog : public analytics::AlertSink {
 public:
  Status Open(const std::string& path) {
    const std::lock_guard<std::mutex> lock(mu_);
    path_ = path;
    return OpenLocked();
  }
  void Reopen() {
    const std::lock_guard<std::mutex> lock(mu_);
    if (path_.empty()) return;
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    if (Status st = OpenLocked(); !st.ok()) {
      Log(LogLevel::kError, "alert_log", st.message(), {{"path", path_}});
    }
  }
  void OnAlert(const analytics::Alert& a) override {
    const std::string line = AlertJson(a) + "\n";
    const std::lock_guard<std::mutex> lock(mu_);
    if (file_ == nullptr) return;
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
      LogLimited("alert_log_write", LogLevel::kError, "alert_log", "cannot write the alert log",
                 {{"path", path_}, {"error", std::strerror(errno)}});
    }
  }
  ~AlertLog() override {
    if (file_ != nullptr) std::fclose(file_);
  }

 private:
  Status OpenLocked() {
    file_ = std::fopen(path_.c_str(), "a");
    if (file_ == nullptr) {
      return Status::Error("cannot open alert log " + path_ + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }
  std::mutex mu_;
  std::string path_;
  std::FILE* file_ = nullptr;
};

class AlertFanout : public analytics::AlertSink {
 public:
  void Add(analytics::AlertSink* s) { sinks_.push_back(s); }
  void OnAlert(const analytics::Alert& a) override {
    alerts_.fetch_add(1, std::memory_order_relaxed);
    for (analytics::AlertSink* s : sinks_) s->OnAlert(a);
  }
  std::uint64_t alert_versions() const { return alerts_.load(std::memory_order_relaxed); }

 private:
  std::vector<analytics::AlertSink*> sinks_;
  std::atomic<std::uint64_t> alerts_{0};
};

class TransferFanout : public analytics::TransferSink {
 public:
  void Add(analytics::TransferSink* s) { sinks_.push_back(s); }
  void OnTransfer(const analytics::Transfer& t) override {
    if (t.version == 1) started_.fetch_add(1, std::memory_order_relaxed);
    if (t.ended) ended_.fetch_add(1, std::memory_order_relaxed);
    for (analytics::TransferSink* s : sinks_) s->OnTransfer(t);
  }
  std::uint64_t started() const { return started_.load(std::memory_order_relaxed); }
  std::uint64_t ended() const { return ended_.load(std::memory_order_relaxed); }

 private:
  std::vector<analytics::TransferSink*> sinks_;
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::uint64_t> ended_{0};
};

// Runs on the merger thread: every update in event-time order to the outputs and the
// sessionizer; watermarks move the sessionizer and the detectors while links are silent. A reload
// posted from the main thread is applied here, between two updates.
class Core : public analytics::FlowSink {
 public:
  Core(analytics::Sessionizer* sessionizer, analytics::DetectorEngine* engine)
      : sessionizer_(sessionizer), engine_(engine) {}
  void AddFlowSink(analytics::FlowSink* s) { extra_.push_back(s); }

  void OnFlowUpdate(const analytics::FlowUpdate& u) override {
    ApplyReload();
    for (analytics::FlowSink* s : extra_) s->OnFlowUpdate(u);
    if (u.reason != analytics::FlowEndReason::kActive) {
      flows_ended_.fetch_add(1, std::memory_order_relaxed);
    }
    sessionizer_->OnFlowUpdate(u);
    engine_->AdvanceTo(u.at);
  }
  void OnWatermark(StreamTime w) override {
    ApplyReload();
    for (analytics::FlowSink* s : extra_) s->OnWatermark(w);
    sessionizer_->AdvanceTo(w);
    engine_->AdvanceTo(w);
  }
  // Main thread: the next update or watermark applies it.
  void PostReload(analytics::DetectOptions options, const analytics::ModelCatalog* catalog) {
    const std::lock_guard<std::mutex> lock(mu_);
    pending_ = Reload{std::move(options), catalog};
    has_pending_.store(true, std::memory_order_release);
  }
  // After the merger has stopped (main thread), anything still pending is applied here.
  void ApplyReload() {
    if (!has_pending_.load(std::memory_order_acquire)) return;
    const std::lock_guard<std::mutex> lock(mu_);
    if (!pending_) return;
    engine_->Reconfigure(std::move(pending_->options), pending_->catalog);
    pending_.reset();
    has_pending_.store(false, std::memory_order_release);
    Log(LogLevel::kInfo, "reload_applied", "new detector settings are in effect");
  }
  std::uint64_t flows_ended() const { return flows_ended_.load(std::memory_order_relaxed); }

 private:
  struct Reload {
    analytics::DetectOptions options;
    const analytics::ModelCatalog* catalog;
  };
  analytics::Sessionizer* sessionizer_;
  analytics::DetectorEngine* engine_;
  std::vector<analytics::FlowSink*> extra_;
  std::mutex mu_;
  std::optional<Reload> pending_;
  std::atomic<bool> has_pending_{false};
  std::atomic<std::uint64_t> flows_ended_{0};
};

// What SIGHUP may change while running; the rest is kept and named in the log.
analytics::DetectOptions ReloadableDetectOptions(const Config& now, const Config& next,
                                                 std::vector<std::string>* needs_restart) {
  analytics::DetectOptions fresh = DetectOptionsFrom(next);
  const analytics::DetectOptions running = DetectOptionsFrom(now);
  // Window lengths, grouping and bucket width shape the state itself: kept as they are.
  const auto& nw = next.detect.ingest.windows;
  const auto& ow = now.detect.ingest.windows;
  bool same_lengths = nw.size() == ow.size();
  for (std::size_t i = 0; same_lengths && i < nw.size(); ++i) {
    same_lengths = nw[i].window_ns == ow[i].window_ns;
  }
  if (!same_lengths) {
    needs_restart->push_back("detect.ingest.windows (window lengths)");
    fresh.ingest.windows = running.ingest.windows;
    for (std::size_t i = 0; i < fresh.ingest.windows.size() && i < nw.size(); ++i) {
      if (nw[i].window_ns == ow[i].window_ns) {
        fresh.ingest.windows[i].threshold_bytes = nw[i].threshold_bytes;
      }
    }
  }
  if (next.detect.ingest.external_group != now.detect.ingest.external_group) {
    needs_restart->push_back("detect.ingest.external_group");
  }
  fresh.ingest.ipv4_group_len = running.ingest.ipv4_group_len;
  fresh.ingest.ipv6_group_len = running.ingest.ipv6_group_len;
  if (next.detect.staging.window_ns != now.detect.staging.window_ns) {
    needs_restart->push_back("detect.staging.window");
  }
  fresh.staging.window_ns = running.staging.window_ns;
  fresh.tenant_names = running.tenant_names;
  fresh.bucket_ns = running.bucket_ns;
  if (next.site != now.site) needs_restart->push_back("site");
  if (next.detect.weight_transfer.gap_ns != now.detect.weight_transfer.gap_ns ||
      next.detect.weight_transfer.external_group != now.detect.weight_transfer.external_group) {
    needs_restart->push_back("detect.weight_transfer.gap / external_group");
  }
  if (next.capture != now.capture) needs_restart->push_back("capture");
  if (!(next.pipeline.workers == now.pipeline.workers &&
        next.pipeline.flow_capacity == now.pipeline.flow_capacity &&
        next.pipeline.idle_timeout_ns == now.pipeline.idle_timeout_ns &&
        next.pipeline.active_timeout_ns == now.pipeline.active_timeout_ns)) {
    needs_restart->push_back("pipeline");
  }
  if (!(next.decode == now.decode)) needs_restart->push_back("decode");
  if (next.history != now.history) needs_restart->push_back("history");
  if (next.metrics != now.metrics) needs_restart->push_back("metrics");
  if (next.alerts.webhooks != now.alerts.webhooks ||
      next.alerts.alertmanager != now.alerts.alertmanager) {
    needs_restart->push_back("alerts.webhooks / alerts.alertmanager");
  }
  if (next.alerts.log_path != now.alerts.log_path) needs_restart->push_back("alerts.log");
  if (next.daemon != now.daemon) needs_restart->push_back("daemon");
  return fresh;
}

// The notifier's attempt counts as the metrics' delivery families.
void AddDeliveriesToSnapshot(const alerting::NotifierStats& st, telemetry::PipelineSnapshot* out) {
  using telemetry::DeliveryReceiver;
  using telemetry::DeliveryResult;
  const std::pair<alerting::ReceiverKind, DeliveryReceiver> kinds[] = {
      {alerting::ReceiverKind::kWebhook, DeliveryReceiver::kWebhook},
      {alerting::ReceiverKind::kAlertmanager, DeliveryReceiver::kAlertmanager}};
  const std::pair<alerting::DeliveryResult, DeliveryResult> results[] = {
      {alerting::DeliveryResult::kOk, DeliveryResult::kDelivered},
      {alerting::DeliveryResult::kRetry, DeliveryResult::kRetried},
      {alerting::DeliveryResult::kDead, DeliveryResult::kFailed}};
  for (const auto& [from_kind, to_kind] : kinds) {
    for (const auto& [from_result, to_result] : results) {
      out->deliveries[static_cast<std::size_t>(to_kind)][static_cast<std::size_t>(to_result)] +=
          st.attempts[static_cast<std::size_t>(from_kind)][static_cast<std::size_t>(from_result)];
    }
  }
}

Status DropPrivileges(const std::string& user) {
  errno = 0;
  const passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return Status::Error("daemon.user: no such user \"" + user + "\"");
  if (getuid() == pw->pw_uid) return Status::Ok();
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0) {
    return Status::Error("cannot switch to user \"" + user + "\": " + std::strerror(errno));
  }
  // Make sure it cannot be undone.
  if (setuid(0) == 0 && pw->pw_uid != 0) {
    return Status::Error("switched to \"" + user + "\" but could still regain root");
  }
  return Status::Ok();
}

constexpr const char* kRunUsage = R"(usage: weighbridge run --config FILE [options]

The inline sensor: captures the live sources of FILE's `capture:` list (libpcap interfaces, DPDK
ports, synthetic traffic), accounts every flow, groups transfers, raises alerts, and writes them to
the configured outputs until stopped.

options:
  --config FILE        the configuration (required); `weighbridge check-config FILE` checks it
  --log-format F       text or json (default: daemon.log_format)
  --log-level L        debug, info, warning or error (default: daemon.log_level)

signals:
  SIGTERM, SIGINT      stop capturing, flush every open flow and transfer to the detectors and
                       outputs, finish pending writes, exit 0
  SIGHUP               re-read FILE: detector thresholds, allow lists, sensitivity and the model
                       catalog take effect without losing flow state; reopen the alert log

endpoints: metrics at metrics.listen (/metrics), health at metrics.health_listen
           (/health: 200 when capturing, else 503 with a JSON reason; /ready; /live)

exit codes: 0 stopped by a signal; 1 a source or output could not start; 2 bad usage or config
)";

}  // namespace

int RunCommand(std::span<const std::string_view> argv) {
  Args args(argv, {"--config", "--log-format", "--log-level"}, {"--help"});
  if (args.Has("--help")) {
    std::fputs(kRunUsage, stdout);
    return kExitOk;
  }
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "weighbridge: %s\n\n%s", why.c_str(), kRunUsage);
    return kExitUsage;
  };
  if (!args.error().empty()) return usage(args.error());
  if (!args.positionals().empty()) return usage("run takes no positional arguments");
  const std::optional<std::string> config_path = args.Value("--config");
  if (!config_path) return usage("run needs --config FILE");

  auto loaded = LoadConfigFile(*config_path);
  if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
    for (const std::string& line : errors->lines) std::fprintf(stderr, "%s\n", line.c_str());
    return kExitUsage;
  }
  Config config = std::get<Config>(std::move(loaded));
  LogFormat log_format = LogFormat::kText;
  LogLevel log_level = LogLevel::kInfo;
  const std::string format_text = args.Value("--log-format").value_or(config.daemon.log_format);
  const std::string level_text = args.Value("--log-level").value_or(config.daemon.log_level);
  if (!ParseLogFormat(format_text, &log_format)) {
    return usage("--log-format: \"" + format_text + "\" is not text or json");
  }
  if (!ParseLogLevel(level_text, &log_level)) {
    return usage("--log-level: \"" + level_text + "\" is not debug, info, warning or error");
  }
  ConfigureLog(log_format, log_level);
  if (config.capture.empty()) {
    std::fprintf(stderr, "%s: capture: no sources (run needs at least one)\n",
                 config_path->c_str());
    return kExitUsage;
  }
  auto catalog = LoadCatalogFor(config, config_path);
  if (!catalog.ok()) {
    std::fprintf(stderr, "weighbridge: model catalog: %s\n", catalog.error().c_str());
    return kExitUsage;
  }
  // Every catalog ever loaded stays alive: the engine may hold the old one until a reload lands.
  std::vector<std::unique_ptr<analytics::ModelCatalog>> catalogs;
  catalogs.push_back(std::make_unique<analytics::ModelCatalog>(std::move(*catalog)));

  // Signals are taken by this thread only, with sigtimedwait: every thread started below
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Log(LogLevel::kInfo, "starting", "weighbridge run",
      {{"version", kVersion},
       {"config", *config_path},
       {"sources", std::to_string(config.capture.size())}});

  // ---- sources (opened first: this is what needs privileges)
  const capture::SiteClassifier site(config.site);
  analytics::PipelineOptions pipeline_options = config.pipeline;
  pipeline_options.site = &site;
  SflowInterfaceBook sflow_interfaces;  // outlives the runners, which hold it
  std::vector<std::unique_ptr<SourceRunner>> runners;
#if defined(WB_WITH_DPDK)
  std::vector<std::unique_ptr<capture::DpdkRuntime>> dpdk_runtimes;
#endif
  auto add = [&](std::unique_ptr<capture::PacketSource> s, double speed) {
    auto r = std::make_unique<SourceRunner>();
    r->name = s->Name();
    r->source = std::move(s);
    r->speed = speed;
    runners.push_back(std::move(r));
  };
  for (std::size_t i = 0; i < config.capture.size(); ++i) {
    const CaptureSourceConfig& c = config.capture[i];
    const std::string where =
        "capture[" + std::to_string(i) + "] (" + std::string(CaptureTypeName(c.type)) + ")";
    switch (c.type) {
      case CaptureType::kPcap: {
        auto s = capture::OpenPcapLive(c.pcap, config.decode, nullptr);
        if (!s.ok()) {
          Log(LogLevel::kError, "source_open", s.error(), {{"source", where}});
          return kExitFailure;
        }
        add(std::move(*s), 0);
        break;
      }
      case CaptureType::kSynth: {
        capture::SynthOptions so;
        so.scenario = c.synth.scenario;
        so.seed = c.synth.seed;
        auto s = capture::OpenSynth(so, config.decode, nullptr);
        if (!s.ok()) {
          Log(LogLevel::kError, "source_open", s.error(), {{"source", where}});
          return kExitUsage;
        }
        add(std::move(*s), 1.0);
        runners.back()->backpressure = analytics::Backpressure::kBlock;
        break;
      }
      case CaptureType::kDpdk: {
#if defined(WB_WITH_DPDK)
        capture::DpdkOptions d;
        d.eal_args = c.dpdk.eal;
        d.ports = c.dpdk.ports;
        d.queues = c.dpdk.queues;
        auto rt = capture::DpdkRuntime::Start(d, config.decode, nullptr);
        if (!rt.ok()) {
          Log(LogLevel::kError, "source_open", rt.error(), {{"source", where}});
          return kExitFailure;
        }
        for (const std::string& note : (*rt)->notes()) {
          Log(LogLevel::kInfo, "dpdk", note, {{"source", where}});
        }
        for (auto& s : (*rt)->TakeSources()) add(std::move(s), 0);
        dpdk_runtimes.push_back(std::move(*rt));
        break;
#else
        Log(LogLevel::kError, "source_open", "this build has no DPDK support", {{"source", where}});
        return kExitUsage;
#endif
      }
      case CaptureType::kSflow:
      case CaptureType::kIpfix:
      case CaptureType::kNetflow:
        break;  // opened together below
    }
  }
  {
    const std::vector<capture::FlowCollectorOptions> collectors =
        FlowCollectorOptionsFromConfig(config);
    for (const capture::FlowCollectorOptions& co : collectors) {
      auto c = capture::FlowCollector::Open(co, config.decode, nullptr);
      if (!c.ok()) {
        Log(LogLevel::kError, "source_open", c.error());
        return kExitFailure;
      }
      capture::FlowCollector* raw = c->get();
      add(std::unique_ptr<capture::PacketSource>(std::move(*c)), 0);
      runners.back()->collector = raw;
      runners.back()->site = &site;
      runners.back()->interfaces = &sflow_interfaces;
    }
  }
  for (const auto& r : runners)
    Log(LogLevel::kInfo, "source_open", "opened", {{"source", r->name}});

  // ---- outputs
  AlertLog alert_log;
  if (!config.alerts.log_path.empty()) {
    if (Status st = alert_log.Open(config.alerts.log_path); !st.ok()) {
      Log(LogLevel::kError, "alert_log", st.message());
      return kExitFailure;
    }
  }

  // ---- privileges: everything that needs root is open now
  if (!config.daemon.user.empty()) {
    if (Status st = DropPrivileges(config.daemon.user); !st.ok()) {
      Log(LogLevel::kError, "privileges", st.message());
      return kExitFailure;
    }
    Log(LogLevel::kInfo, "privileges", "running as " + config.daemon.user);
  }

  // ---- outputs that write as the service user: history, delivery, metrics
  std::unique_ptr<store::History> history;
  std::unique_ptr<store::HistoryWriter> writer;
  if (!config.history.path.empty()) {
    const store::HistoryOptions ho = HistoryOptionsFrom(config, config.history.path);
    auto opened = store::History::Open(ho);
    if (!opened.ok()) {
      Log(LogLevel::kError, "history", opened.error(), {{"path", config.history.path}});
      return kExitFailure;
    }
    history = std::move(*opened);
    writer = std::make_unique<store::HistoryWriter>(*history, ho);
    Log(LogLevel::kInfo, "history", "open", {{"path", config.history.path}});
  }
  std::unique_ptr<AlertDelivery> delivery;
  if (!config.alerts.webhooks.empty() || !config.alerts.alertmanager.empty()) {
    auto started = AlertDelivery::Start(config, history.get());
    if (!started.ok()) {
      Log(LogLevel::kError, "delivery", started.error());
      return kExitUsage;
    }
    delivery = std::move(*started);
    Log(LogLevel::kInfo, "delivery", "receivers started",
        {{"webhooks", std::to_string(config.alerts.webhooks.size())},
         {"alertmanagers", std::to_string(config.alerts.alertmanager.size())},
         {"outbox", history ? "history" : "memory"}});
  }
  // Before the metrics: their snapshot reads the exporters, which must outlive it.
  std::vector<std::unique_ptr<flowexport::IpfixExporter>> exporters;
  {
    auto opened = OpenIpfixExporters(config);
    if (!opened.ok()) {
      Log(LogLevel::kError, "export", opened.error());
      return kExitFailure;
    }
    exporters = std::move(*opened);
    for (const auto& e : exporters) {
      Log(LogLevel::kInfo, "export", "IPFIX export", {{"collector", e->collector()}});
    }
  }
  telemetry::Metrics metrics(MetricsOptionsFrom(config, kVersion));
  if (const Status st = metrics.Serve(config.metrics.listen.ToString()); !st.ok()) {
    Log(LogLevel::kError, "metrics", st.message());
    return kExitFailure;
  }

  // ---- the analytics chain: sources' pipelines -> merger -> core -> sessionizer -> detectors
  AlertFanout alerts;
  if (!config.alerts.log_path.empty()) alerts.Add(&alert_log);
  if (writer) alerts.Add(writer.get());
  alerts.Add(metrics.alert_sink());
  // Delivery last: its outbox write is the slowest step, and the log and history have the alert
  // by then.
  if (delivery) alerts.Add(delivery.get());
  analytics::DetectorEngine engine(DetectOptionsFrom(config), catalogs.back().get(), &alerts);
  TransferFanout transfers;
  if (writer) transfers.Add(writer.get());
  transfers.Add(metrics.transfer_sink());
  transfers.Add(&engine);
  analytics::SessionizerOptions sessionizer_options = SessionizerOptionsFrom(config);
  sessionizer_options.max_update_delay_ns = analytics::MaxFirstUpdateDelayNs(config.pipeline);
  analytics::Sessionizer sessionizer(sessionizer_options, &transfers);
  Core core(&sessionizer, &engine);
  if (writer) core.AddFlowSink(writer.get());
  core.AddFlowSink(metrics.flow_sink());
  for (const auto& e : exporters) core.AddFlowSink(e.get());
  // A restart goes on where the last run stopped: open transfers, windows, alerts, memory.
  if (history) {
    if (Status st = RestoreSensorState(*history, &sessionizer, &engine); !st.ok()) {
      Log(LogLevel::kWarning, "state", "not restored: " + st.message());
    }
  }
  const unsigned workers = std::max(1u, config.pipeline.workers);
  const auto collectors = static_cast<unsigned>(
      std::count_if(runners.begin(), runners.end(), [](const auto& r) { return r->collector; }));
  analytics::UpdateMerger merger(workers * static_cast<unsigned>(runners.size()) + collectors,
                                 &core);
  {
    std::vector<analytics::FlowSink*> inboxes = merger.inboxes();
    // The collectors' record inboxes come after every pipeline's shards.
    std::size_t next_record_inbox = workers * runners.size();
    for (auto& r : runners) {
      if (r->collector != nullptr) r->record_inbox = inboxes[next_record_inbox++];
    }
    for (std::size_t i = 0; i < runners.size(); ++i) {
      std::vector<analytics::FlowSink*> mine(
          inboxes.begin() + static_cast<long>(i * workers),
          inboxes.begin() + static_cast<long>((i + 1) * workers));
      analytics::PipelineOptions po = pipeline_options;
      po.workers = workers;
      runners[i]->pipeline = std::make_unique<analytics::ShardedPipeline>(po, std::move(mine),
                                                                          runners[i]->backpressure);
    }
  }

  const analytics::DetectOptions detect_at_start = DetectOptionsFrom(config);
  metrics.SetSnapshotSource([&](telemetry::PipelineSnapshot* out) {
    analytics::PipelineOptions po = pipeline_options;
    po.workers = workers;
    std::int64_t newest = 0;
    for (const auto& r : runners) {
      AddSourceToSnapshot(*r->source, out);
      AddPipelineToSnapshot(*r->pipeline, po, out);
      if (r->collector != nullptr)
        AddFlowInputToSnapshot(r->name, r->collector->flow_counters(), out);
      newest = std::max(newest, r->newest_ns.load(std::memory_order_relaxed));
    }
    out->newest_packet = StreamTime{newest};
    sflow_interfaces.AddToSnapshot(out);
    AddExportsToSnapshot(exporters, out);
    out->merger_late_updates = merger.late_updates();
    out->ingest_windows = IngestWindows(detect_at_start);
    AddIngestPeaks(engine, &out->ingest_windows);
    if (writer) {
      const store::HistoryWriter::Stats hs = writer->stats();
      out->history = {hs.records_written, hs.queue_depth, hs.queue_drops, hs.db_size_bytes};
    }
    if (delivery) AddDeliveriesToSnapshot(delivery->stats(), out);
  });
  // Whatever way this function returns, scrapes stop reading the objects above before they go.
  struct SnapshotReset {
    telemetry::Metrics& metrics;
    ~SnapshotReset() { metrics.SetSnapshotSource(nullptr); }
  } snapshot_reset{metrics};

  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  std::atomic<bool> stopping{false};
  auto health_state = [&] {
    HealthState h;
    h.ready = ready.load(std::memory_order_relaxed) && !stopping.load(std::memory_order_relaxed);
    h.state = stopping.load() ? "stopping" : (ready.load() ? "running" : "starting");
    h.sources = static_cast<unsigned>(runners.size());
    std::int64_t newest = 0;
    for (const auto& r : runners) {
      if (r->running.load(std::memory_order_relaxed)) ++h.sources_running;
      newest = std::max(newest, r->newest_ns.load(std::memory_order_relaxed));
      h.packets += r->source->decoder().counters().frames.Get();
      const capture::SourceStats st = r->source->Stats();
      h.dropped += st.kernel_drops + st.interface_drops + st.nic_imissed + st.nic_rx_nombuf;
      for (unsigned s = 0; s < r->pipeline->workers(); ++s) {
        h.dropped += r->pipeline->shard_counters(s).ring_full_drops.Get();
      }
    }
    h.lag_seconds = newest > 0 ? static_cast<double>(WallNowNs() - newest) / 1e9 : 0;
    return h;
  };
  std::unique_ptr<HealthServer> health;
  {
    auto hs = HealthServer::Start(config.metrics.health_listen.address,
                                  config.metrics.health_listen.port, health_state);
    if (!hs.ok()) {
      Log(LogLevel::kError, "health", hs.error());
      return kExitFailure;
    }
    health = std::move(*hs);
  }

  for (auto& r : runners) {
    r->running.store(true);
    r->thread = std::thread(CaptureLoop, r.get(), &stop);
  }
  ready.store(true);
  Log(LogLevel::kInfo, "running", "capturing",
      {{"health", config.metrics.health_listen.ToString()},
       {"workers_per_source", std::to_string(workers)}});

  // ---- the main thread: signals and the periodic stats line
  auto last_stats = std::chrono::steady_clock::now();
  std::uint64_t last_dropped = 0;
  for (;;) {
    timespec wait{0, 200'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      Log(LogLevel::kInfo, "stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig == SIGHUP) {
      alert_log.Reopen();
      auto next = LoadConfigFile(*config_path);
      if (auto* errors = std::get_if<ConfigErrors>(&next)) {
        for (const std::string& line : errors->lines) {
          Log(LogLevel::kError, "reload_refused", line);
        }
        Log(LogLevel::kError, "reload_refused",
            "the config does not load; the running one is kept");
        continue;
      }
      Config fresh = std::get<Config>(std::move(next));
      auto next_catalog = LoadCatalogFor(fresh, config_path);
      if (!next_catalog.ok()) {
        Log(LogLevel::kError, "reload_refused", "model catalog: " + next_catalog.error());
        continue;
      }
      catalogs.push_back(std::make_unique<analytics::ModelCatalog>(std::move(*next_catalog)));
      std::vector<std::string> needs_restart;
      analytics::DetectOptions options = ReloadableDetectOptions(config, fresh, &needs_restart);
      core.PostReload(std::move(options), catalogs.back().get());
      std::string kept;
      for (const std::string& k : needs_restart) kept += (kept.empty() ? "" : ", ") + k;
      Log(LogLevel::kInfo, "reload", "config re-read; detector settings apply from the next update",
          {{"not_applied_until_restart", kept.empty() ? "none" : kept}});
      // What a later reload compares with: the settings now in force.
      config.detect = fresh.detect;
      continue;
    }
    const HealthState h = health_state();
    if (h.dropped > last_dropped) {
      LogLimited("drops", LogLevel::kWarning, "drops", "packets were dropped",
                 {{"dropped_total", std::to_string(h.dropped)},
                  {"new", std::to_string(h.dropped - last_dropped)}});
      last_dropped = h.dropped;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_stats >= std::chrono::nanoseconds(config.daemon.stats_interval_ns)) {
      last_stats = now;
      Log(LogLevel::kInfo, "stats", "running",
          {{"packets", std::to_string(h.packets)},
           {"dropped", std::to_string(h.dropped)},
           {"flows_ended", std::to_string(core.flows_ended())},
           {"transfers", std::to_string(transfers.started())},
           {"alert_versions", std::to_string(alerts.alert_versions())},
           {"sources_running", std::to_string(h.sources_running)}});
    }
  }

  // ---- shutdown: stop capture, flush every flow and transfer, finish the outputs
  stopping.store(true);
  const auto t0 = std::chrono::steady_clock::now();
  stop.store(true);
  for (auto& r : runners) r->source->Stop();
  for (auto& r : runners) {
    if (r->thread.joinable()) r->thread.join();
  }
  for (auto& r : runners) r->pipeline->Finish();
  merger.Finish();
  core.ApplyReload();
  metrics.FlushWindow();
  for (const auto& e : exporters) {
    if (const Status st = e->Flush(); !st.ok()) Log(LogLevel::kWarning, "export", st.message());
    if (e->send_errors() > 0) {
      Log(LogLevel::kWarning, "export", "messages not sent",
          {{"collector", e->collector()}, {"send_errors", std::to_string(e->send_errors())}});
    }
  }
  if (writer) {
    // Open transfers and detector state go to the history instead of being ended: the next
    // start continues them (a 141 GB upload across a restart is still one upload).
    writer->SaveState(std::string(store::kSensorStateName), EncodeSensorState(sessionizer, engine));
  } else {
    sessionizer.FlushAll();
    engine.Finish();
  }
  if (writer) {
    writer->Stop();
    if (const Status st = writer->Flush(); !st.ok()) {
      Log(LogLevel::kError, "history", "final flush: " + st.message());
    }
  }
  if (delivery) {
    const DeliveryReport rep = delivery->WaitIdle(kShutdownDeliveryWait);
    Log(LogLevel::kInfo, "delivery", "stopping",
        {{"delivered", std::to_string(rep.delivered)},
         {"pending", std::to_string(rep.pending)},
         {"dead", std::to_string(rep.dead)},
         {"pending_kept", history ? "in the history outbox" : "lost (no history)"}});
    delivery->Stop();
  }
  metrics.SetSnapshotSource(nullptr);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const HealthState h = health_state();
  char took[32];
  std::snprintf(took, sizeof took, "%.3f", secs);
  Log(LogLevel::kInfo, "stopped",
      writer ? "every flow flushed; open transfers and detector state saved to history"
             : "every flow and transfer flushed",
      {{"seconds", took},
       {"packets", std::to_string(h.packets)},
       {"dropped", std::to_string(h.dropped)},
       {"flows_ended", std::to_string(core.flows_ended())},
       {"transfers", std::to_string(transfers.started())},
       {"alert_versions", std::to_string(alerts.alert_versions())}});
  health.reset();
  return kExitOk;
}

}  // namespace weighbridge::app
