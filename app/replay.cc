#include "replay.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "pacer.h"
#include "weighbridge/analytics/pipeline.h"
#include "weighbridge/analytics/update_merger.h"

namespace weighbridge::app {

namespace {

// Frames read per poll: big enough to amortise per-burst work, small enough to stay in L1/L2.
constexpr std::size_t kBurst = 256;

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO) == 1) {
    start_ = last_ = std::chrono::steady_clock::now();
  }
  void Maybe(const capture::DecodeCounters& c) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double frames = static_cast<double>(c.frames.Get());
    std::fprintf(stderr, "\rreplay: %.2fM frames, %.2f GB, %.2f Mpps   ", frames / 1e6,
                 static_cast<double>(c.l3_bytes.Get()) / 1e9, frames / secs / 1e6);
    shown_ = true;
  }
  void Done() {
    if (shown_) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

// Downstream of the merger, on its thread: every update in event-time order goes to the flows-out
// collector (when flows are kept) and to the sessionizer; flows are counted as they end.
class Tee : public analytics::FlowSink {
 public:
  Tee(FlowCollector* flows, analytics::Sessionizer* sessionizer, analytics::DetectorEngine* engine,
      std::vector<analytics::FlowSink*> extra)
      : flows_(flows), sessionizer_(sessionizer), engine_(engine), extra_(std::move(extra)) {}
  void OnFlowUpdate(const analytics::FlowUpdate& u) override {
    if (flows_ != nullptr) flows_->OnFlowUpdate(u);
    for (analytics::FlowSink* s : extra_) s->OnFlowUpdate(u);
    if (u.reason != analytics::FlowEndReason::kActive) ++flows_ended_;  // each flow ends once
    sessionizer_->OnFlowUpdate(u);
    // Detector time follows update event times, not watermarks: watermarks depend on which
    // packets each shard saw, and alerts must not depend on the number of workers.
    engine_->AdvanceTo(u.at);
  }
  std::uint64_t flows_ended() const { return flows_ended_; }

 private:
  FlowCollector* flows_;
  analytics::Sessionizer* sessionizer_;
  analytics::DetectorEngine* engine_;
  std::vector<analytics::FlowSink*> extra_;
  std::uint64_t flows_ended_ = 0;
};

// Transfers go to the collector, the extra outputs, then the detectors; alerts to the collector
// and the extra outputs.
class TransferFanout : public analytics::TransferSink {
 public:
  explicit TransferFanout(std::vector<analytics::TransferSink*> sinks) : sinks_(std::move(sinks)) {}
  void OnTransfer(const analytics::Transfer& t) override {
    for (analytics::TransferSink* s : sinks_) s->OnTransfer(t);
  }

 private:
  std::vector<analytics::TransferSink*> sinks_;
};

class AlertFanout : public analytics::AlertSink {
 public:
  explicit AlertFanout(std::vector<analytics::AlertSink*> sinks) : sinks_(std::move(sinks)) {}
  void OnAlert(const analytics::Alert& a) override {
    for (analytics::AlertSink* s : sinks_) s->OnAlert(a);
  }

 private:
  std::vector<analytics::AlertSink*> sinks_;
};

class AlertCollector : public analytics::AlertSink {
 public:
  void OnAlert(const analytics::Alert& a) override { alerts.push_back(a); }
  std::vector<analytics::Alert> alerts;
};

class TransferCollector : public analytics::TransferSink {
 public:
  explicit TransferCollector(bool keep) : keep_(keep) {}
  void OnTransfer(const analytics::Transfer& t) override {
    if (!t.ended) return;
    ++ended_count_;
    if (keep_) ended_.push_back(t);
  }
  std::uint64_t ended_count() const { return ended_count_; }
  std::vector<analytics::Transfer> TakeSorted() {
    std::sort(ended_.begin(), ended_.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first < y.first : x.id < y.id;
    });
    return std::move(ended_);
  }

 private:
  bool keep_;
  std::uint64_t ended_count_ = 0;
  std::vector<analytics::Transfer> ended_;
};

}  // namespace

ReplayResult RunReplay(capture::PacketSource& source, const ReplayOptions& options,
                       const std::atomic<bool>& stop) {
  ReplayResult result;
  const unsigned workers = options.pipeline.workers == 0 ? 1 : options.pipeline.workers;
  FlowCollector flows;
  TransferCollector transfers(options.keep_transfers);
  analytics::SessionizerOptions sessionizer_options = options.sessionizer;
  sessionizer_options.max_update_delay_ns = analytics::MaxFirstUpdateDelayNs(options.pipeline);
  AlertCollector alerts;
  std::vector<analytics::AlertSink*> alert_sinks = {&alerts};
  alert_sinks.insert(alert_sinks.end(), options.outputs.alert_sinks.begin(),
                     options.outputs.alert_sinks.end());
  AlertFanout alert_fanout(std::move(alert_sinks));
  static const analytics::ModelCatalog kNoCatalog;
  analytics::DetectorEngine engine(
      options.detect, options.catalog != nullptr ? options.catalog : &kNoCatalog, &alert_fanout);
  std::vector<analytics::TransferSink*> transfer_sinks = {&transfers};
  transfer_sinks.insert(transfer_sinks.end(), options.outputs.transfer_sinks.begin(),
                        options.outputs.transfer_sinks.end());
  transfer_sinks.push_back(&engine);
  TransferFanout fanout(std::move(transfer_sinks));
  analytics::Sessionizer sessionizer(sessionizer_options, &fanout);
  Tee tee(options.keep_flows ? &flows : nullptr, &sessionizer, &engine, options.outputs.flow_sinks);
  // Flow records from flow protocols are one more producer into the merger, after the shards.
  const bool records = static_cast<bool>(options.outputs.take_flow_updates);
  analytics::UpdateMerger merger(workers + (records ? 1 : 0), &tee);
  std::vector<analytics::FlowSink*> inboxes = merger.inboxes();
  analytics::FlowSink* record_inbox = records ? inboxes.back() : nullptr;
  if (records) inboxes.pop_back();
  // Replay blocks on a full ring rather than dropping: results are exact and repeatable.
  analytics::ShardedPipeline pipeline(options.pipeline, std::move(inboxes),
                                      analytics::Backpressure::kBlock);
  if (options.on_start) options.on_start(&sessionizer, &engine);
  if (options.outputs.on_runtime) {
    options.outputs.on_runtime({&pipeline, &merger, &source, &engine, &sessionizer});
  }
  std::vector<capture::PacketMeta> burst(kBurst);
  std::vector<analytics::FlowUpdate> record_updates;
  StreamTime newest;
  ProgressLine progress(options.progress);
  Pacer pacer(options.speed);
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) break;
    const capture::PollResult r = source.Poll(burst);
    std::span<const capture::PacketMeta> packets(burst.data(), r.packets);
    if (!pacer.enabled()) {
      pipeline.Dispatch(packets);
    } else {
      DispatchPaced(pipeline, packets, pacer, stop);
    }
    if (r.packets > 0) newest = std::max(newest, burst[r.packets - 1].ts);
    if (record_inbox != nullptr) {
      record_updates.clear();
      options.outputs.take_flow_updates(&record_updates);
      for (const analytics::FlowUpdate& u : record_updates) {
        record_inbox->OnFlowUpdate(u);
        newest = std::max(newest, u.at);
      }
      record_inbox->OnWatermark(newest);
    }
    progress.Maybe(source.decoder().counters());
    if (r.state == capture::PollResult::State::kEnd) break;
    if (r.state == capture::PollResult::State::kError) {
      result.summary.input_error = r.error;
      break;
    }
  }
  // A signal that lands in a blocking read makes libpcap see an error or, on a pipe, the end of
  // the input: either way the input was cut short by the signal, so say that.
  if (stop.load(std::memory_order_relaxed)) {
    result.interrupted = true;
    result.summary.input_error = "interrupted by a signal before the end of the input";
  }
  pipeline.Finish();
  merger.Finish();
  // An interrupted resumable replay keeps its transfers and alerts open for the next run.
  const bool saved = result.interrupted && options.on_end &&
                     options.on_end(sessionizer, engine, /*interrupted=*/true);
  if (!saved) {
    sessionizer.FlushAll();
    engine.Finish();
    if (options.on_end) options.on_end(sessionizer, engine, /*interrupted=*/false);
  }
  progress.Done();
  result.summary.AddDecoder(source.decoder().counters());
  for (unsigned i = 0; i < workers; ++i) {
    const analytics::FlowTableCounters& c = pipeline.table_counters(i);
    result.summary.flow_evictions += c.evictions.Get();
    for (std::size_t d = 0; d < 4; ++d) {
      result.summary.direction_packets[d] += c.direction_packets[d].Get();
      result.summary.direction_bytes[d] += c.direction_l3_bytes[d].Get();
    }
  }
  result.flows = flows.TakeSorted();
  result.summary.flows = tee.flows_ended();
  result.transfers = transfers.TakeSorted();
  result.summary.transfers = transfers.ended_count();
  result.summary.alerts = engine.counters().alerts;
  result.alerts = std::move(alerts.alerts);
  if (options.outputs.on_runtime) options.outputs.on_runtime({});
  return result;
}

}  // namespace weighbridge::app
