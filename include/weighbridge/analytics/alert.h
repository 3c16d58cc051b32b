// Alerts: what the detectors tell the outside world, and the sink interface the outputs
// (alert log, history store, notifier) implement. An Alert crosses from analytics to the outputs
// by value; its JSON form is written by app/ (ARCHITECTURE.md, "Alerts").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::analytics {

enum class AlertKind : std::uint8_t {
  kWeightTransfer,  // a model-weight-sized outbound transfer
  kDatasetIngest,   // dataset-scale inbound volume from one external group within a window
  kStagingIngest,   // east-west upload into storage by a host without bulk history
  kTrainAndReturn,  // ingest from a group, then weight-sized egress to the same group
  kCount
};
// Stable snake_case names, as in the alert JSON: "weight_transfer", "dataset_ingest", ...
std::string_view AlertKindName(AlertKind k);

enum class AlertSeverity : std::uint8_t { kInfo, kWarning, kCritical, kCount };
std::string_view AlertSeverityName(AlertSeverity s);  // "info", "warning", "critical"

enum class AlertState : std::uint8_t { kActive, kEnded, kCount };
std::string_view AlertStateName(AlertState s);  // "active", "ended"

// The catalog entry a transfer's size matches (ModelCatalog::Match).
struct ModelMatch {
  std::string name;        /**< model name as in the catalog, e.g. "Llama-3.1-8B" */
  double params = 0;       /**< parameters (a count, not billions) */
  std::string dtype;       /**< storage format, e.g. "bf16/fp16", "gguf-q4_k_m" */
  std::uint64_t bytes = 0; /**< bytes: the catalog's size for this model and format */
  double error_pct = 0;    /**< (payload - bytes) / bytes * 100; signed, |error| <= tolerance */
  friend bool operator==(const ModelMatch&, const ModelMatch&) = default;
};

// One version of one alert. The same `id` is reported again, with `version` + 1, whenever the
// alert grows, changes its model match, its severity, or ends. Ids are deterministic (a hash of
// the kind, the key and the first stream time), so a replay gives the same ids at any speed.
struct Alert {
  std::uint64_t id = 0;      /**< stable over versions; see AlertIdString for its text form */
  std::uint32_t version = 1; /**< 1 for the first report, +1 per update */
  AlertState state = AlertState::kActive;
  AlertKind kind = AlertKind::kWeightTransfer;
  AlertSeverity severity = AlertSeverity::kWarning;
  StreamTime first_seen; /**< ns: first packet of the transfer / first byte counted in the window */
  StreamTime last_seen;  /**< ns: latest packet / stream time of this version */
  // The inside end: a host (/32 or /128) for transfers and staging; for dataset_ingest the
  // tenant's or site's traffic has no single host, so this is empty (length 0, has_inside false).
  Prefix inside;
  bool has_inside = false;
  Prefix external;           /**< the external peer group (staging: the storage prefix) */
  std::string external_name; /**< the named peer group / organisation, "" if none */
  capture::Direction direction = capture::Direction::kOutbound; /**< of the bytes counted */
  std::uint64_t bytes = 0;         /**< bytes: L3 bytes counted (transfer, or window sum) */
  std::uint64_t payload_bytes = 0; /**< bytes: transport payload counted (what thresholds use) */
  SampleStats sampling;    /**< sampled input: the samples behind payload_bytes and its variance;
                                zero when every packet was counted (the figure is exact) */
  std::uint32_t flows = 0; /**< flows that took part (transfers only; 0 for windows) */
  std::string tenant;      /**< tenant name of the inside end, "" none */
  std::optional<ModelMatch>
      model_match; /**< weight_transfer / train_and_return: best catalog match */
  std::vector<ModelMatch>
      model_alternatives; /**< other catalog entries the payload is as close to as the
                               tolerance (sampled: the error) allows, nearest first, at most 4 */

  // Detail fields: each kind fills the ones that apply; the others stay zero/empty.
  std::int64_t window_ns = 0;            /**< ns: dataset_ingest / staging_ingest window length */
  std::uint64_t threshold_bytes = 0;     /**< bytes: the threshold (weight_transfer: min_size) */
  bool projected = false;                /**< dataset_ingest: not crossed yet, only projected to */
  StreamTime projected_crossing;         /**< ns: when the threshold would be crossed at the current
                                              rate (projected alerts only) */
  double rate_bps = 0;                   /**< payload rate used for the projection, bits/s */
  std::uint64_t transfer_id = 0;         /**< weight_transfer / train_and_return: Transfer::id */
  std::vector<std::uint64_t> linked_ids; /**< train_and_return: ingest alert ids, then the
                                              weight_transfer alert id (last) */
};

// "0123456789abcdef": the 16-digit lowercase hex form used in JSON and Idempotency-Key.
std::string AlertIdString(std::uint64_t id);

// Receives alerts. Called on the detector engine's thread, in stream-time order.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void OnAlert(const Alert& alert) = 0;
};

}  // namespace weighbridge::analytics
