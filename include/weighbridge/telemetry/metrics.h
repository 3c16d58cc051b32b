// Prometheus metrics of one sensor process: counters fed by the analytics outputs (flow updates,
// transfers, alerts), a snapshot of the pipeline's own shard-local counters taken at scrape
// time, and the HTTP endpoint (prometheus-cpp's Exposer) that serves them. docs/metrics.md lists
// every family.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/capture/decode.h"
#include "weighbridge/capture/flow_record.h"
#include "weighbridge/capture/source.h"
#include "weighbridge/core/result.h"
#include "weighbridge/core/units.h"

namespace prometheus {
class Exposer;
}

namespace weighbridge::telemetry {

// Filled in by app/.
struct MetricsOptions {
  // The top-K families hold at most this many peer groups and this many inside hosts.
  std::size_t top_k = 20;
  // Top-K ranks bytes over tumbling windows of this much stream time; the gauges show the last
  // complete window. Best no shorter than the pipeline's active timeout, so every running flow
  // reports into every window.
  std::int64_t top_window_ns = 300 * kNanosPerSecond;
  // External peers are grouped by these prefix lengths (detect.*.external_group).
  int ipv4_group_len = 24;
  int ipv6_group_len = 48;
  std::string version = "unknown";  // weighbridge_build_info{version}
};

// Who an alert delivery went to, and how it went (weighbridge_alert_deliveries_total).
enum class DeliveryReceiver : std::uint8_t { kWebhook, kAlertmanager, kLog, kCount };
enum class DeliveryResult : std::uint8_t {
  kDelivered,  // the receiver accepted it
  kRetried,    // an attempt failed and will be retried
  kFailed,     // given up (retries exhausted or a permanent error)
  kCount
};
const char* DeliveryReceiverName(DeliveryReceiver r);  // "webhook", "alertmanager", "log"
const char* DeliveryResultName(DeliveryResult r);      // "delivered", "retried", "failed"

struct SourceSnapshot {
  std::string name;  // PacketSource::Name(): "live:eth1", "dpdk:0/1" (a bounded set: the config's)
  capture::SourceStats stats;
};

// One shard's flow table and ring (analytics::FlowTableCounters, ShardCounters).
struct ShardSnapshot {
  std::uint64_t packets = 0;
  std::uint64_t active_flows = 0;
  std::uint64_t capacity_flows = 0;  // flows the shard's table holds at most
  std::uint64_t flows_created = 0;
  std::uint64_t flows_ended = 0;
  std::uint64_t evictions = 0;
  std::uint64_t ring_full_drops = 0;
};

// One window of detect.ingest.windows: the largest inbound payload any external group sent in
// the window, against the window's threshold.
struct IngestWindowSnapshot {
  std::int64_t window_ns = 0;
  std::uint64_t threshold_bytes = 0;
  std::uint64_t peak_payload_bytes = 0;
};

struct HistorySnapshot {
  std::uint64_t records_written = 0;  // flows, transfers, alerts, rollups written to RocksDB
  std::uint64_t queue_depth = 0;      // records waiting for the writer
  std::uint64_t dropped = 0;          // records dropped because the queue was full
  std::uint64_t db_size_bytes = 0;    // RocksDB's estimate of live data on disk
};

// One flow-protocol input (an sflow / ipfix / netflow `capture:` entry): its
// capture::FlowProtocolCounters.
struct FlowInputSnapshot {
  std::string source;  // "sflow:0.0.0.0:6343" (a bounded set: the config's)
  std::uint64_t datagrams = 0;
  std::uint64_t flow_records = 0;
  std::uint64_t sampled_packets = 0;
  std::uint64_t counter_samples = 0;
  std::uint64_t templates_learned = 0;
  std::uint64_t templates_withdrawn = 0;
  std::uint64_t templates_expired = 0;
  std::array<std::uint64_t, capture::kFlowDropReasonCount> dropped{};  // by FlowDropReason
};

// The latest sFlow generic interface counters of one agent's interface, as the agent counts
// them (cumulative; they restart when the device does).
struct SflowInterfaceSnapshot {
  std::string agent;  // the agent address from the sFlow header (exporters are allow-listed)
  std::uint32_t if_index = 0;
  std::uint64_t speed_bps = 0;
  bool up = false;  // ifOperStatus
  std::uint64_t in_octets = 0;
  std::uint64_t out_octets = 0;
  std::uint64_t in_packets = 0;  // unicast + multicast + broadcast
  std::uint64_t out_packets = 0;
  std::uint64_t in_discards = 0;
  std::uint64_t out_discards = 0;
  std::uint64_t in_errors = 0;
  std::uint64_t out_errors = 0;
};

// One IPFIX export collector (export.ipfix).
struct ExportSnapshot {
  std::string collector;  // "192.0.2.5:4739" (the config's)
  std::uint64_t messages = 0;
  std::uint64_t records = 0;
  std::uint64_t send_errors = 0;
};

// What the pipeline's objects know, copied at scrape time. Counters stay where they are counted
// (shard-local, decoder-local) and are summed here.
struct PipelineSnapshot {
  // Decoder counters, summed over sources.
  std::uint64_t frames = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t ipv4_packets = 0;
  std::uint64_t ipv6_packets = 0;
  std::uint64_t fragments_unmatched = 0;
  std::array<std::uint64_t, capture::kDecodeResultCount> decode_errors{};  // [kOk] is unused
  // Packets and L3 bytes by the packet's own direction, summed over the shards' flow tables.
  std::array<std::uint64_t, static_cast<std::size_t>(capture::Direction::kCount)>
      direction_packets{};
  std::array<std::uint64_t, static_cast<std::size_t>(capture::Direction::kCount)>
      direction_l3_bytes{};
  std::vector<SourceSnapshot> sources;
  std::vector<ShardSnapshot> shards;
  std::uint64_t merger_late_updates = 0;
  std::vector<IngestWindowSnapshot> ingest_windows;
  std::array<std::array<std::uint64_t, static_cast<std::size_t>(DeliveryResult::kCount)>,
             static_cast<std::size_t>(DeliveryReceiver::kCount)>
      deliveries{};  // [receiver][result]
  HistorySnapshot history;
  StreamTime newest_packet;  // stream time of the newest packet read; 0: unknown
  // Flow-protocol inputs and the sFlow interfaces they report (families only when present).
  std::vector<FlowInputSnapshot> flow_inputs;
  std::vector<SflowInterfaceSnapshot> sflow_interfaces;
  std::uint64_t sflow_interfaces_untracked = 0;  // counter samples beyond the tracked interfaces
  std::vector<ExportSnapshot> exports;           // families only when present
};

// The process's metrics. One per process; owned by app/. The sinks are called on one analytics
// thread (the merger's); scrapes run on the exposer's threads and read only atomics, the
// published top-K lists (a short mutex) and the snapshot source (called under its own mutex).
class Metrics {
 public:
  explicit Metrics(const MetricsOptions& options = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Starts serving GET /metrics on `listen` ("127.0.0.1:9477", "[::1]:9477"; port 0 picks a free
  // one, see port()). Fails, naming the address, when it cannot bind. Call at most once.
  Status Serve(const std::string& listen);
  // The port Serve bound; 0 before.
  int port() const;

  // For the pipeline's output fan-outs; all three are called on the same analytics thread.
  analytics::FlowSink* flow_sink();
  analytics::TransferSink* transfer_sink();
  analytics::AlertSink* alert_sink();

  // Analytics thread: publishes the top-K of the window in progress (end of input or shutdown),
  // so the last partial window is not lost.
  void FlushWindow();

  // Called at each scrape, on the scrape thread, to copy the pipeline's counters. Replacing or
  // clearing it (nullptr) waits for a scrape in progress. Without one the snapshot is all zeros.
  void SetSnapshotSource(std::function<void(PipelineSnapshot*)> fill);

  // One producer thread: wall time spent handling one burst of packets (decode to dispatch).
  void ObserveBurst(std::int64_t processing_ns) noexcept;

  // The text a scrape returns (Prometheus text format 0.0.4).
  std::string RenderText() const;

 private:
  class Impl;
  // Shared with the exposer, which holds it by weak_ptr as its Collectable.
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace weighbridge::telemetry
