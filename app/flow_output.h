// Outputs of a replay: the --flows-out JSON lines and the --summary-json object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/capture/decode.h"

namespace weighbridge::app {

// RFC 3339 UTC with microseconds: "2026-01-01T00:00:00.000000Z" (truncated, not rounded).
std::string FormatStreamTime(StreamTime t);

// One line of --flows-out: a flow's updates added up, so that a flow split by active timeout is
// one line again.
struct FlowLine {
  analytics::FlowKey key;
  std::uint64_t flow_id = 0;
  StreamTime first;
  StreamTime last;
  analytics::DirectionCounters a_to_b;
  analytics::DirectionCounters b_to_a;
};

// Collects flow updates by flow id. Single-threaded (downstream of the UpdateMerger).
class FlowCollector : public analytics::FlowSink {
 public:
  void OnFlowUpdate(const analytics::FlowUpdate& u) override;
  // Moves out the flows, ordered by first packet time, then by flow id (deterministic whatever
  // the order updates arrived in).
  std::vector<FlowLine> TakeSorted();
  std::size_t size() const { return flows_.size(); }

 private:
  std::unordered_map<std::uint64_t, FlowLine> flows_;
};

std::string FlowLineJson(const FlowLine& f);
// One line of --transfers-out: a transfer's final state.
std::string TransferJson(const analytics::Transfer& t,
                         const std::vector<std::string>& tenant_names);

// A prefix of one host as its address ("10.1.2.3"), any other as a prefix ("10.1.0.0/16").
std::string HostOrPrefix(const Prefix& p);

// One line of --alerts-out (and of the alert log): one version of an alert, in the contract's
// shape (ARCHITECTURE.md "Alerts"), with `sampling` (null, or the samples behind payload_bytes,
// its standard error and a 95% interval) for estimates from sampled input.
std::string AlertJson(const analytics::Alert& a);

// Half-width of a 95% interval in standard errors (the normal approximation: a sampled estimate
// is a sum of many independent samples).
inline constexpr double kConfidence95Sigmas = 1.96;

// Everything --summary-json reports.
struct ReplaySummary {
  std::uint64_t frames = 0;
  std::uint64_t ip_packets = 0;
  std::uint64_t ipv4_packets = 0;
  std::uint64_t ipv6_packets = 0;
  std::uint64_t l3_bytes = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t fragments_unmatched = 0;
  std::uint64_t direction_packets[4] = {};  // from the flow tables: per packet, per flow direction
  std::uint64_t direction_bytes[4] = {};
  std::uint64_t decode_errors[capture::kDecodeResultCount] = {};
  std::uint64_t flows = 0;
  std::uint64_t flow_evictions = 0;
  std::optional<std::uint64_t> transfers;  // null until the sessionizer runs
  std::optional<std::uint64_t> alerts;     // null until detectors run
  std::optional<std::string> input_error;
  // Flow-protocol inputs (a replay whose config has sflow / ipfix / netflow sources): present
  // only then. Drops by reason, every reason listed.
  struct FlowProtocols {
    std::uint64_t datagrams = 0;
    std::uint64_t datagrams_dropped = 0;
    std::uint64_t flow_records = 0;
    std::uint64_t sampled_packets = 0;
    std::uint64_t counter_samples = 0;
    std::vector<std::pair<std::string, std::uint64_t>> dropped;
  };
  std::optional<FlowProtocols> flow_protocols;

  void AddDecoder(const capture::DecodeCounters& c);
};

std::string SummaryJson(const ReplaySummary& s);

}  // namespace weighbridge::app
