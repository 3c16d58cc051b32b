#include "telemetry_bridge.h"

#include <algorithm>
#include <utility>

#include "detect_setup.h"
#include "weighbridge/analytics/pipeline.h"
#include "weighbridge/analytics/update_merger.h"

namespace weighbridge::app {

telemetry::MetricsOptions MetricsOptionsFrom(const Config& config, const std::string& version) {
  telemetry::MetricsOptions o;
  const analytics::SessionizerOptions s = SessionizerOptionsFrom(config);
  o.ipv4_group_len = s.ipv4_group_len;
  o.ipv6_group_len = s.ipv6_group_len;
  o.version = version;
  o.top_k = config.metrics.top_k;
  o.top_window_ns = config.metrics.top_window_ns;
  return o;
}

void AddSourceToSnapshot(const capture::PacketSource& source, telemetry::PipelineSnapshot* out) {
  const capture::DecodeCounters& c = source.decoder().counters();
  out->frames += c.frames.Get();
  out->wire_bytes += c.wire_bytes.Get();
  out->ipv4_packets += c.ipv4_packets.Get();
  out->ipv6_packets += c.ipv6_packets.Get();
  out->fragments_unmatched += c.fragments_unmatched.Get();
  for (std::size_t r = 1; r < capture::kDecodeResultCount; ++r) {
    out->decode_errors[r] += c.by_reason[r].Get();
  }
  out->sources.push_back(telemetry::SourceSnapshot{source.Name(), source.Stats()});
}

void AddPipelineToSnapshot(const analytics::ShardedPipeline& pipeline,
                           const analytics::PipelineOptions& options,
                           telemetry::PipelineSnapshot* out) {
  const unsigned workers = pipeline.workers();
  // As ShardedPipeline sizes its tables: an equal share of the capacity each.
  const std::uint64_t capacity = workers == 0 ? 0 : options.flow_capacity / workers;
  for (unsigned i = 0; i < workers; ++i) {
    const analytics::FlowTableCounters& t = pipeline.table_counters(i);
    telemetry::ShardSnapshot s;
    s.packets = t.packets.Get();
    s.active_flows = t.active_flows.Get();
    s.capacity_flows = capacity;
    s.flows_created = t.flows_created.Get();
    s.flows_ended = t.flows_ended.Get();
    s.evictions = t.evictions.Get();
    s.ring_full_drops = pipeline.shard_counters(i).ring_full_drops.Get();
    out->shards.push_back(s);
    for (std::size_t d = 0; d < out->direction_packets.size(); ++d) {
      out->direction_packets[d] += t.direction_packets[d].Get();
      out->direction_l3_bytes[d] += t.direction_l3_bytes[d].Get();
    }
  }
}

void FillPipelineSnapshot(const analytics::ShardedPipeline& pipeline,
                          const analytics::PipelineOptions& options,
                          const capture::PacketSource& source,
                          const analytics::UpdateMerger& merger, telemetry::PipelineSnapshot* out) {
  AddSourceToSnapshot(source, out);
  AddPipelineToSnapshot(pipeline, options, out);
  out->merger_late_updates += merger.late_updates();
}

std::string FlowInputName(const capture::FlowInputOptions& input) {
  return std::string(capture::FlowProtocolName(input.protocol)) + ":" +
         EndpointString(input.listen_address, input.port);
}

void AddFlowInputToSnapshot(const std::string& source, const capture::FlowProtocolCounters& c,
                            telemetry::PipelineSnapshot* out) {
  telemetry::FlowInputSnapshot s;
  s.source = source;
  s.datagrams = c.datagrams.Get();
  s.flow_records = c.flow_records.Get();
  s.sampled_packets = c.sampled_packets.Get();
  s.counter_samples = c.counter_samples.Get();
  s.templates_learned = c.templates_learned.Get();
  s.templates_withdrawn = c.templates_withdrawn.Get();
  s.templates_expired = c.templates_expired.Get();
  for (std::size_t r = 0; r < capture::kFlowDropReasonCount; ++r) s.dropped[r] = c.dropped[r].Get();
  out->flow_inputs.push_back(std::move(s));
}

void AddExportsToSnapshot(const std::vector<std::unique_ptr<flowexport::IpfixExporter>>& exporters,
                          telemetry::PipelineSnapshot* out) {
  for (const auto& e : exporters) {
    out->exports.push_back(telemetry::ExportSnapshot{e->collector(), e->messages_sent(),
                                                     e->records_exported(), e->send_errors()});
  }
}

void SflowInterfaceBook::Update(const std::vector<capture::SflowInterfaceCounters>& counters) {
  if (counters.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const capture::SflowInterfaceCounters& c : counters) {
    auto key = std::make_pair(c.agent.ToString(), c.if_index);
    auto it = latest_.find(key);
    if (it == latest_.end()) {
      if (latest_.size() >= max_) {
        ++untracked_;
        continue;
      }
      it = latest_.emplace(std::move(key), telemetry::SflowInterfaceSnapshot{}).first;
    }
    telemetry::SflowInterfaceSnapshot& s = it->second;
    s.agent = it->first.first;
    s.if_index = c.if_index;
    s.speed_bps = c.if_speed_bps;
    s.up = (c.if_status & 2u) != 0;  // bit 1: ifOperStatus up (bit 0 is ifAdminStatus)
    s.in_octets = c.in_octets;
    s.out_octets = c.out_octets;
    s.in_packets =
        std::uint64_t{c.in_unicast_packets} + c.in_multicast_packets + c.in_broadcast_packets;
    s.out_packets =
        std::uint64_t{c.out_unicast_packets} + c.out_multicast_packets + c.out_broadcast_packets;
    s.in_discards = c.in_discards;
    s.out_discards = c.out_discards;
    s.in_errors = c.in_errors;
    s.out_errors = c.out_errors;
  }
}

void SflowInterfaceBook::AddToSnapshot(telemetry::PipelineSnapshot* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : latest_) out->sflow_interfaces.push_back(s);
  out->sflow_interfaces_untracked += untracked_;
}

std::size_t SflowInterfaceBook::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_.size();
}

std::vector<telemetry::IngestWindowSnapshot> IngestWindows(const analytics::DetectOptions& detect) {
  std::vector<telemetry::IngestWindowSnapshot> w;
  for (const analytics::IngestWindowOptions& o : detect.ingest.windows) {
    w.push_back(telemetry::IngestWindowSnapshot{o.window_ns, o.threshold_bytes, 0});
  }
  return w;
}

capture::PollResult MeteredSource::Poll(std::span<capture::PacketMeta> out) {
  const auto called = std::chrono::steady_clock::now();
  // The time since the previous Poll returned is what the loop spent on that burst.
  if (polled_ && metrics_ != nullptr) {
    metrics_->ObserveBurst(
        std::chrono::duration_cast<std::chrono::nanoseconds>(called - returned_).count());
  }
  capture::PollResult r = inner_->Poll(out);
  for (std::size_t i = 0; i < r.packets; ++i) {
    if (out[i].ts.ns > newest_ns_.load(std::memory_order_relaxed)) {
      newest_ns_.store(out[i].ts.ns, std::memory_order_relaxed);
    }
  }
  // Idle polls of a live source hand nothing on: do not count them as bursts.
  polled_ = r.packets > 0;
  returned_ = std::chrono::steady_clock::now();
  return r;
}

void AddIngestPeaks(const analytics::DetectorEngine& engine,
                    std::vector<telemetry::IngestWindowSnapshot>* windows) {
  for (std::size_t i = 0; i < windows->size(); ++i) {
    (*windows)[i].peak_payload_bytes = engine.IngestWindowPeak(i);
  }
}

ReplayTelemetry::ReplayTelemetry(telemetry::Metrics* metrics,
                                 const analytics::DetectOptions& detect,
                                 const analytics::PipelineOptions& pipeline,
                                 const MeteredSource* metered)
    : metrics_(metrics), windows_(IngestWindows(detect)), pipeline_(pipeline), metered_(metered) {
  last_.ingest_windows = windows_;
  metrics_->SetSnapshotSource([this](telemetry::PipelineSnapshot* out) { Fill(out); });
}

ReplayTelemetry::~ReplayTelemetry() {
  metrics_->SetSnapshotSource(nullptr);
}

void ReplayTelemetry::Attach(ReplayOptions* options) {
  options->outputs.flow_sinks.push_back(metrics_->flow_sink());
  options->outputs.transfer_sinks.push_back(metrics_->transfer_sink());
  options->outputs.alert_sinks.push_back(metrics_->alert_sink());
  std::function<void(const ReplayRuntime&)> previous = std::move(options->outputs.on_runtime);
  options->outputs.on_runtime = [this, previous](const ReplayRuntime& r) {
    if (previous) previous(r);
    OnRuntime(r);
  };
}

void ReplayTelemetry::OnRuntime(const ReplayRuntime& runtime) {
  if (runtime.pipeline == nullptr) {
    // Teardown: keep what the objects last said. The sinks are quiet by now (the merger has
    // finished), so the top-K flush does not race them.
    std::lock_guard<std::mutex> lock(mu_);
    telemetry::PipelineSnapshot final_snapshot;
    FillPipelineLocked(&final_snapshot);
    last_ = std::move(final_snapshot);
    runtime_ = ReplayRuntime{};
    metrics_->FlushWindow();
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  runtime_ = runtime;
}

void ReplayTelemetry::FillPipelineLocked(telemetry::PipelineSnapshot* out) {
  if (runtime_.pipeline == nullptr || runtime_.source == nullptr || runtime_.merger == nullptr) {
    *out = last_;
    return;
  }
  *out = telemetry::PipelineSnapshot{};
  FillPipelineSnapshot(*runtime_.pipeline, pipeline_, *runtime_.source, *runtime_.merger, out);
  out->ingest_windows = windows_;
  if (runtime_.engine != nullptr) AddIngestPeaks(*runtime_.engine, &out->ingest_windows);
}

void ReplayTelemetry::Fill(telemetry::PipelineSnapshot* out) {
  std::lock_guard<std::mutex> lock(mu_);
  FillPipelineLocked(out);
  // Live, after the pipeline too: the exporters flush once the replay has ended.
  if (extra_) extra_(out);
  if (metered_ != nullptr) out->newest_packet = metered_->newest_packet();
}

}  // namespace weighbridge::app
