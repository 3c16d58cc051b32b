// The `weighbridge history` queries: filters over the store's records and the aggregations the
// command prints (flows merged by flow, host timelines and top talkers from the rollups). Pure
// functions of a History, so that unit tests run them without the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flow_output.h"
#include "weighbridge/store/history.h"

namespace weighbridge::app {

// RFC 3339 ("2026-01-01T00:00:00Z", "2026-01-01T02:00:00.5+02:00", "2026-01-01 00:00:00Z") to
// nanoseconds since the epoch. Returns "" on success, else what was wrong.
std::string ParseRfc3339(std::string_view text, std::int64_t* ns);
// A --since/--until value: a duration counts back from `newest_ns` (the newest stream time in
// the database), anything else must be RFC 3339.
std::string ParseTimeBound(std::string_view text, std::int64_t newest_ns, std::int64_t* ns);

// What every query filters on; unset members do not filter.
struct HistoryFilter {
  store::TimeRange range;
  std::uint64_t min_bytes = 0;     // L3 bytes both ways (alerts: their `bytes`)
  std::optional<Prefix> inside;    // the inside host lies in this prefix
  std::optional<Prefix> external;  // the external peer (group) overlaps this prefix
  std::optional<std::string> tenant;
  std::optional<std::string> kind;  // alerts: alert kind; transfers and flows: direction
  bool latest_only = false;         // alerts: the newest version of each id only
};

// True when the two prefixes share an address (one holds the other's network).
bool PrefixesOverlap(const Prefix& x, const Prefix& y);

Status QueryAlerts(const store::History& h, const HistoryFilter& f,
                   std::vector<analytics::Alert>* out);
Status QueryTransfers(const store::History& h, const HistoryFilter& f,
                      const std::vector<std::string>& tenant_names,
                      std::vector<analytics::Transfer>* out);

// A flow's updates within the range, added up (as --flows-out prints it), with its direction
// and tenant.
struct FlowRow {
  FlowLine line;
  capture::Direction direction = capture::Direction::kTransit;
  std::uint16_t tenant = 0;
};
Status QueryFlows(const store::History& h, const HistoryFilter& f,
                  const std::vector<std::string>& tenant_names, std::vector<FlowRow>* out);

// One bucket of one entity from the rollups.
struct RollupRow {
  std::int64_t bucket_ns = 0;  // start of the bucket (a multiple of the step since the epoch)
  store::RollupEntity entity = store::RollupEntity::kInsideHost;
  Prefix subject;
  std::uint16_t tenant = 0;
  store::RollupCounters counters;
  std::uint64_t TotalBytes() const { return counters.in_bytes + counters.out_bytes; }
};
// Rollups added up per `step_ns` bucket (a multiple of a minute; 0: one bucket for the whole
// range, starting at the range's start) and entity, for the entities the filter selects
// (`entity`: hosts by --inside and --tenant; external groups by --external). Uses the hour rows
// where the buckets allow it. Ordered by bucket, then subject.
Status QueryRollups(const store::History& h, const HistoryFilter& f, store::RollupEntity entity,
                    std::int64_t step_ns, const std::vector<std::string>& tenant_names,
                    std::vector<RollupRow>* out);
// The top `n` rows of each bucket by bytes both ways (ties by subject).
std::vector<RollupRow> TopPerBucket(std::vector<RollupRow> rows, std::size_t n);

}  // namespace weighbridge::app
