// From the running pipeline to telemetry: fills telemetry::PipelineSnapshot from the objects
// that count (ShardedPipeline, PacketSource and its Decoder, UpdateMerger), and wires a
// telemetry::Metrics into a replay (its sinks and a snapshot source that follows the replay's
// runtime). app/ is the only place that knows both sides.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "config.h"
#include "replay.h"
#include "weighbridge/analytics/detectors.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/capture/flow_collector.h"
#include "weighbridge/capture/sflow.h"
#include "weighbridge/capture/source.h"
#include "weighbridge/flowexport/ipfix_exporter.h"
#include "weighbridge/telemetry/metrics.h"

namespace weighbridge::analytics {
class ShardedPipeline;
class UpdateMerger;
}  // namespace weighbridge::analytics

namespace weighbridge::app {

// Metrics options from the config: peer grouping from detect.weight_transfer.external_group.
telemetry::MetricsOptions MetricsOptionsFrom(const Config& config, const std::string& version);

// Adds one source's decoder counters and stats (several live sources: call once each).
void AddSourceToSnapshot(const capture::PacketSource& source, telemetry::PipelineSnapshot* out);

// Appends one pipeline's shards (numbered on from those already in `out`, so a daemon with one
// pipeline per source gets shards 0..N-1 over all of them) and adds its per-direction counts.
// `options` gives each shard's table capacity. Safe from any thread while the pipeline lives
// (it reads relaxed counters only).
void AddPipelineToSnapshot(const analytics::ShardedPipeline& pipeline,
                           const analytics::PipelineOptions& options,
                           telemetry::PipelineSnapshot* out);

// The one-source, one-pipeline case (replay): AddSourceToSnapshot, AddPipelineToSnapshot and
// the merger's late updates.
void FillPipelineSnapshot(const analytics::ShardedPipeline& pipeline,
                          const analytics::PipelineOptions& options,
                          const capture::PacketSource& source,
                          const analytics::UpdateMerger& merger, telemetry::PipelineSnapshot* out);

// A flow-protocol input's name in metrics: "sflow:0.0.0.0:6343", as FlowCollector::Name().
std::string FlowInputName(const capture::FlowInputOptions& input);

// Adds one flow-protocol input's counters (weighbridge_flow_input_*). Any thread.
void AddFlowInputToSnapshot(const std::string& source, const capture::FlowProtocolCounters& c,
                            telemetry::PipelineSnapshot* out);

// Adds each exporter's counters (weighbridge_export_*). Any thread.
void AddExportsToSnapshot(const std::vector<std::unique_ptr<flowexport::IpfixExporter>>& exporters,
                          telemetry::PipelineSnapshot* out);

// The latest sFlow generic interface counters of each (agent, ifIndex), for metrics: the capture
// thread hands over what its inputs decoded, a scrape copies. At most `max_interfaces` are kept
// (agents are allow-listed, but a misconfigured one could report any index); counter samples of
// others are counted as untracked. Thread-safe.
class SflowInterfaceBook {
 public:
  explicit SflowInterfaceBook(std::size_t max_interfaces = 4096) : max_(max_interfaces) {}
  void Update(const std::vector<capture::SflowInterfaceCounters>& counters);
  void AddToSnapshot(telemetry::PipelineSnapshot* out) const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::size_t max_;
  std::map<std::pair<std::string, std::uint32_t>, telemetry::SflowInterfaceSnapshot> latest_;
  std::uint64_t untracked_ = 0;
};

// The ingest windows with their thresholds; peak_payload_bytes 0 (see AddIngestPeaks).
std::vector<telemetry::IngestWindowSnapshot> IngestWindows(const analytics::DetectOptions& detect);

// Fills each window's peak_payload_bytes from the detectors (DetectorEngine::IngestWindowPeak,
// safe from any thread).
void AddIngestPeaks(const analytics::DetectorEngine& engine,
                    std::vector<telemetry::IngestWindowSnapshot>* windows);

// A PacketSource wrapper for the capture loop: it times the work between one Poll's return and
// the next Poll (decode hand-off and dispatch to the shards, including a blocked ring) as
// weighbridge_burst_processing_seconds, and remembers the newest packet's stream time for the
// lag gauge. Everything else goes to the wrapped source. Poll from one thread, as usual.
class MeteredSource : public capture::PacketSource {
 public:
  MeteredSource(capture::PacketSource* inner, telemetry::Metrics* metrics)
      : inner_(inner), metrics_(metrics) {}
  capture::PollResult Poll(std::span<capture::PacketMeta> out) override;
  void Stop() override { inner_->Stop(); }
  capture::SourceStats Stats() const override { return inner_->Stats(); }
  const capture::Decoder& decoder() const override { return inner_->decoder(); }
  std::string Name() const override { return inner_->Name(); }

  // Any thread: stream time of the newest packet returned so far (0 before the first).
  StreamTime newest_packet() const {
    return StreamTime{newest_ns_.load(std::memory_order_relaxed)};
  }

 private:
  capture::PacketSource* inner_;
  telemetry::Metrics* metrics_;
  bool polled_ = false;
  std::chrono::steady_clock::time_point returned_;
  std::atomic<std::int64_t> newest_ns_{0};
};

// Connects a Metrics to one replay (ReplayOptions::outputs): the metrics' sinks join the
// outputs, and the snapshot source reads the ReplayRuntime while the pipeline runs. When the
// runtime goes away (on_runtime with nulls) the last snapshot is kept, so a lingering exposer
// still serves the final counts (and Prometheus sees no counter reset). Outlives the replay.
class ReplayTelemetry {
 public:
  // `metered` (may be null) is the MeteredSource the replay reads, for the newest packet time.
  ReplayTelemetry(telemetry::Metrics* metrics, const analytics::DetectOptions& detect,
                  const analytics::PipelineOptions& pipeline, const MeteredSource* metered);
  ~ReplayTelemetry();
  ReplayTelemetry(const ReplayTelemetry&) = delete;
  ReplayTelemetry& operator=(const ReplayTelemetry&) = delete;

  // Appends the sinks to options->outputs and chains on_runtime (any hook already set still
  // runs first). Call once, before RunReplay.
  void Attach(ReplayOptions* options);

  // What on_runtime does; public for capture loops other than RunReplay.
  void OnRuntime(const ReplayRuntime& runtime);

  // The snapshot a scrape sees now.
  void Fill(telemetry::PipelineSnapshot* out);
  // Adds to every snapshot, during the replay and after it (while lingering): the flow-protocol
  // inputs' and exporters' counters, which live outside ReplayRuntime and outlive it (the
  // exporters flush after the replay). Set before RunReplay.
  void SetExtraFill(std::function<void(telemetry::PipelineSnapshot*)> fill) {
    extra_ = std::move(fill);
  }

 private:
  telemetry::Metrics* metrics_;
  std::vector<telemetry::IngestWindowSnapshot> windows_;
  analytics::PipelineOptions pipeline_;
  const MeteredSource* metered_;
  // The pipeline's part of a snapshot: from the runtime, or last_ once it is gone. Under mu_.
  void FillPipelineLocked(telemetry::PipelineSnapshot* out);
  std::mutex mu_;  // guards runtime_ and last_: a scrape never reads a runtime being torn down
  ReplayRuntime runtime_;
  telemetry::PipelineSnapshot last_;
  std::function<void(telemetry::PipelineSnapshot*)> extra_;
};

}  // namespace weighbridge::app
