#include "replay.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

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
  Tee(FlowCollector* flows, analytics::Sessionizer* sessionizer, analytics::DetectorEngine* engine)
      : flows_(flows), sessionizer_(sessionizer), engine_(engine) {}
  void OnFlowUpdate(const analytics::FlowUpdate& u) override {
    if (flows_ != nullptr) flows_->OnFlowUpdate(u);
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
  std::uint64_t flows_ended_ = 0;
};

// Transfers go to the collector and to the detectors, in that order.
class TransferFanout : public analytics::TransferSink {
 public:
  TransferFanout(analytics::TransferSink* a, analytics::TransferSink* b) : a_(a), b_(b) {}
  void OnTransfer(const analytics::Transfer& t) override {
    a_->OnTransfer(t);
    b_->OnTransfer(t);
  }

 private:
  analytics::TransferSink* a_;
  analytics::TransferSink* b_;
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
  sessionizer_options.max_update_delay_ns =
      options.pipeline.active_timeout_ns + options.pipeline.idle_timeout_ns;
  AlertCollector alerts;
  static const analytics::ModelCatalog kNoCatalog;
  analytics::DetectorEngine engine(
      options.detect, options.catalog != nullptr ? options.catalog : &kNoCatalog, &alerts);
  TransferFanout fanout(&transfers, &engine);
  analytics::Sessionizer sessionizer(sessionizer_options, &fanout);
  Tee tee(options.keep_flows ? &flows : nullptr, &sessionizer, &engine);
  analytics::UpdateMerger merger(workers, &tee);
  // Replay blocks on a full ring rather than dropping: results are exact and repeatable.
  analytics::ShardedPipeline pipeline(options.pipeline, merger.inboxes(),
                                      analytics::Backpressure::kBlock);
  std::vector<capture::PacketMeta> burst(kBurst);
  ProgressLine progress(options.progress);
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) break;
    const capture::PollResult r = source.Poll(burst);
    pipeline.Dispatch(std::span<const capture::PacketMeta>(burst.data(), r.packets));
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
  sessionizer.FlushAll();
  engine.Finish();
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
  return result;
}

}  // namespace weighbridge::app
