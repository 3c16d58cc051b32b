// The detector engine: reads transfers (from the Sessionizer) in event-time order and raises
// weight_transfer, dataset_ingest, staging_ingest and train_and_return alerts. All time is stream
// time (the transfers' packet times, or AdvanceTo), never the wall clock, so a replay gives the
// same alerts, ids and versions at any speed. See docs/detectors.md for each detector's rules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/model_catalog.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::analytics {

// `detect.weight_transfer`.
struct WeightTransferOptions {
  std::uint64_t min_size_bytes = std::uint64_t{1} << 30;  // sent payload that alerts (>=)
  // Model catalog match: |error| <= this (2%), or two standard errors of a sampled estimate
  // when that is more.
  double tolerance_fraction = 0.02;
  // An active alert is re-reported when its payload has grown by this fraction since the last
  // report (or it ended). Bounds alert lines per transfer to
  // about log(final/min_size) / log(1 + this).
  double update_growth_fraction = 0.10;
};

// One sliding window of `detect.ingest.windows`.
struct IngestWindowOptions {
  std::int64_t window_ns = 0;         // a multiple of DetectOptions::bucket_ns (else rounded up)
  std::uint64_t threshold_bytes = 0;  // inbound payload within the window that alerts (>)
};

// `detect.ingest`.
struct IngestOptions {
  // External groups are the sessionizer's (Transfer::external); a shorter length here merges
  // them further (e.g. /16). Longer than the sessionizer's cannot split them and is ignored.
  int ipv4_group_len = 24;
  int ipv6_group_len = 48;
  std::vector<IngestWindowOptions> windows = {
      {3600 * kNanosPerSecond, 10'000'000'000'000ULL},
      {24 * 3600 * kNanosPerSecond, 100'000'000'000'000ULL},
      {7 * 24 * 3600 * kNanosPerSecond, 1'000'000'000'000'000ULL}};
  // Projected-crossing warning: raised when the window holds at least this fraction of the
  // threshold and, at the rate of the last `rate_span_ns`, the rest would arrive within the
  // window length from now. 0 turns projections off.
  double projection_min_fraction = 0.10;
  std::int64_t rate_span_ns = 10 * 60 * kNanosPerSecond;
};

// `detect.staging`.
struct StagingOptions {
  std::int64_t window_ns = 3600 * kNanosPerSecond;
  std::uint64_t threshold_bytes = 10'000'000'000'000ULL;  // payload into storage that alerts (>)
  std::vector<Prefix> storage;  // where staged data lands; empty turns the detector off
  // "No bulk history": in the `baseline_ns` before the window started, the host sent less than
  // `baseline_max_bytes` of payload into the storage prefixes. Hosts that routinely upload
  // (backup agents, ingest gateways) have history and never alert.
  std::int64_t baseline_ns = 7 * 24 * 3600 * kNanosPerSecond;
  std::uint64_t baseline_max_bytes = 1'000'000'000'000ULL;  // 1 TB
  // No staging alert until the engine has seen this much stream time: before that every host
  // lacks history only because the sensor just started. 0: judge from the first transfer.
  std::int64_t learning_ns = 0;
};

// `detect.train_and_return`.
struct TrainAndReturnOptions {
  std::int64_t within_ns = 30 * 24 * 3600 * kNanosPerSecond;
};

// `detect.allow`: traffic between the site and these peers, in these directions, never alerts.
// A transfer's peer group is allowed when a prefix here contains the whole group, or when the
// group's name (a sessionizer named group) equals the rule's name.
struct AllowRuleOptions {
  std::string name;
  std::vector<Prefix> prefixes;
  std::vector<capture::Direction> directions = {
      capture::Direction::kInbound, capture::Direction::kOutbound, capture::Direction::kInternal,
      capture::Direction::kTransit};
};

// Filled in by app/ from `detect:` and `site.tenants`.
struct DetectOptions {
  WeightTransferOptions weight_transfer;
  IngestOptions ingest;
  StagingOptions staging;
  TrainAndReturnOptions train_and_return;
  std::vector<AllowRuleOptions> allow;
  // Severity raise to critical: alerts for these tenants (by name), to peers inside these
  // prefixes, or to these named peer groups.
  std::vector<std::string> sensitive_tenants;
  std::vector<Prefix> sensitive_prefixes;
  std::vector<std::string> sensitive_groups;
  // site.tenants names, in order: Transfer::tenant t names tenant_names[t - 1].
  std::vector<std::string> tenant_names;
  // Width of the volume buckets that ingest and staging windows sum (see docs/detectors.md for
  // the error this allows). Must be > 0.
  std::int64_t bucket_ns = 60 * kNanosPerSecond;
};

// What train_and_return remembers about one external group's ingest: a plain value list, so the
// history store can persist it and give it back at start-up (ExportMemory / ImportMemory).
struct IngestMemory {
  std::string group_name;                // named group, "" for a prefix group
  Prefix group;                          // the ingest group's prefix (at the ingest group length)
  std::vector<std::uint64_t> alert_ids;  // dataset_ingest alerts of this group, oldest first
  StreamTime first_seen;                 // first byte of the earliest of those alerts
  StreamTime last_seen;                  // latest stream time any of them was above its threshold
  std::uint64_t payload_bytes = 0;       // the largest window sum among them
  friend bool operator==(const IngestMemory&, const IngestMemory&) = default;
};

// The engine's whole state as plain values, so that a daemon can stop in the middle of a 141 GB
// upload and, restarted, still report the whole upload (the history store persists it).
struct VolumeBucketState {
  std::int64_t index = 0;     // bucket number (stream time / bucket_ns)
  std::int64_t first_ns = 0;  // earliest byte time in it
  std::uint64_t l3_bytes = 0;
  std::uint64_t payload_bytes = 0;
  SampleStats sampling;  // of payload_bytes (sampled input)
  friend bool operator==(const VolumeBucketState&, const VolumeBucketState&) = default;
};
struct WindowAlertState {
  bool active = false;
  std::int64_t crossed_end_ns = 0;
  bool suppressed = false;
  Alert alert;
  std::uint64_t reported_payload_bytes = 0;
};
struct VolumeState {  // one ingest (group, tenant) or staging (uploader) key
  std::string key;
  std::string group_key;  // ingest only
  Prefix group;           // ingest: the group; staging: the uploader
  Prefix storage;         // staging only
  std::string name;       // ingest only
  std::uint16_t tenant = 0;
  std::vector<VolumeBucketState> buckets;
  std::int64_t last_ns = 0;
  std::vector<WindowAlertState> windows;  // ingest: one per window; staging: exactly one
};
struct TransferTrackState {
  std::uint64_t transfer_id = 0;
  std::uint64_t sent_l3_bytes = 0;
  std::uint64_t sent_payload_bytes = 0;
  std::uint64_t received_l3_bytes = 0;
  std::uint64_t received_payload_bytes = 0;
  SampleStats sent_sampling;
  SampleStats received_sampling;
  bool weight_decided = false;
  bool weight_allowed = false;
  std::optional<Alert> weight;
  std::uint64_t reported_payload_bytes = 0;
  std::optional<Alert> train;
};
struct DetectorState {
  std::int64_t now_ns = 0;
  std::int64_t start_ns = 0;
  bool started = false;  // now_ns / start_ns are meaningful
  std::vector<TransferTrackState> transfers;
  std::vector<VolumeState> ingest;
  std::vector<VolumeState> staging;
  std::vector<IngestMemory> memory;
};

// Counts for the summary and metrics.
struct DetectorCounters {
  std::uint64_t transfers = 0;       // OnTransfer calls
  std::uint64_t alerts = 0;          // distinct alert ids raised
  std::uint64_t alert_versions = 0;  // OnAlert calls
  std::uint64_t allowed = 0;         // transfers that would have alerted but matched an allow rule
  std::uint64_t out_of_order = 0;    // bytes reported older than the retained window (dropped)
};

// Single-threaded: call OnTransfer, AdvanceTo and Finish on one thread, in event-time order
// (the Sessionizer's output order). Alerts go to `sink` synchronously, on that thread.
class DetectorEngine : public TransferSink {
 public:
  DetectorEngine(DetectOptions options, const ModelCatalog* catalog, AlertSink* sink);
  ~DetectorEngine() override;
  DetectorEngine(const DetectorEngine&) = delete;
  DetectorEngine& operator=(const DetectorEngine&) = delete;

  void OnTransfer(const Transfer& t) override;
  // Moves stream time forward without a transfer (a watermark): windows slide, projections and
  // window alerts that fell below their threshold end. Earlier times are ignored.
  void AdvanceTo(StreamTime now);
  // End of input or shutdown: every alert still active is reported once more as ended, at the
  // current stream time.
  void Finish();

  // A reload (SIGHUP): new thresholds, allow rules, sensitivity and catalog apply from the next
  // transfer or AdvanceTo on; state (tracked transfers, window sums, active alerts, memory) is
  // kept. bucket_ns cannot change while running: the old one is kept.
  void Reconfigure(DetectOptions options, const ModelCatalog* catalog);

  // Everything the engine holds, for a restart; Import before the first transfer. Counters are
  // not part of it (they count this process's work).
  DetectorState ExportState() const;
  void ImportState(DetectorState state);

  std::vector<IngestMemory> ExportMemory() const;
  // Replaces train_and_return's memory (e.g. from the history store at start-up).
  void ImportMemory(std::vector<IngestMemory> memory);

  StreamTime now() const;
  const DetectorCounters& counters() const;
  // Safe from any thread (metrics): the largest inbound payload any external group holds in
  // ingest window `window` (index into options.ingest.windows; the first 16 are published).
  // Exact as of the last bucket boundary, and raised as bytes arrive in between.
  std::uint64_t IngestWindowPeak(std::size_t window) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighbridge::analytics
