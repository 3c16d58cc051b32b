#include "weighbridge/analytics/detectors.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "weighbridge/core/counter.h"
#include "weighbridge/core/hash.h"

namespace weighbridge::analytics {

std::string_view AlertKindName(AlertKind k) {
  switch (k) {
    case AlertKind::kWeightTransfer:
      return "weight_transfer";
    case AlertKind::kDatasetIngest:
      return "dataset_ingest";
    case AlertKind::kStagingIngest:
      return "staging_ingest";
    case AlertKind::kTrainAndReturn:
      return "train_and_return";
    case AlertKind::kCount:
      break;
  }
  return "unknown";
}

std::string_view AlertSeverityName(AlertSeverity s) {
  switch (s) {
    case AlertSeverity::kInfo:
      return "info";
    case AlertSeverity::kWarning:
      return "warning";
    case AlertSeverity::kCritical:
      return "critical";
    case AlertSeverity::kCount:
      break;
  }
  return "unknown";
}

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kActive:
      return "active";
    case AlertState::kEnded:
      return "ended";
    case AlertState::kCount:
      break;
  }
  return "unknown";
}

std::string AlertIdString(std::uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

namespace {

constexpr std::size_t kMaxPublishedWindows = 16;

// dataset_ingest projections are re-reported when their volume has grown by this fraction.
constexpr double kProjectedUpdateGrowth = 1.0;
// A sampled transfer's size matches a catalog entry within this many standard errors when that
// is wider than detect.weight_transfer.tolerance (about 95% of estimates fall within two).
constexpr double kMatchSigmas = 2.0;
// Catalog entries besides the best match that an alert names (Alert::model_alternatives).
constexpr std::size_t kMaxModelAlternatives = 4;

std::uint64_t HashString(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across runs and platforms
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

// Alert ids: kind, key and the first stream time, so equal input gives equal ids.
std::uint64_t AlertId(AlertKind kind, std::uint64_t key_hash, std::int64_t first_ns) {
  return Mix64(Mix64(static_cast<std::uint64_t>(kind) + 1) ^ key_hash ^
               Mix64(static_cast<std::uint64_t>(first_ns)));
}

// Byte sums saturate instead of wrapping: 2^64 bytes is 18 EB, so this never triggers in
// practice, but a wrapped sum would silently drop below every threshold.
inline std::uint64_t SatAdd(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

inline std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

inline std::int64_t CeilBuckets(std::int64_t span_ns, std::int64_t bucket_ns) {
  return std::max<std::int64_t>(1, (span_ns + bucket_ns - 1) / bucket_ns);
}

bool SameFamily(const Prefix& a, const Prefix& b) {
  return a.IsV4() == b.IsV4();
}
// `outer` holds every address of `inner`.
bool Covers(const Prefix& outer, const Prefix& inner) {
  return SameFamily(outer, inner) && outer.length <= inner.length && outer.Contains(inner.network);
}
bool Overlaps(const Prefix& a, const Prefix& b) {
  return Covers(a, b) || Covers(b, a);
}

Prefix HostPrefix(const IpAddress& a) {
  return Prefix{a, a.IsV4() ? 32 : 128};
}

struct Sums {
  std::uint64_t l3_bytes = 0;
  std::uint64_t payload_bytes = 0;
  SampleStats sampling;                                              // of payload_bytes
  std::int64_t first_ns = std::numeric_limits<std::int64_t>::max();  // earliest byte counted
};

// Volume per bucket of stream time, only non-empty buckets kept, in bucket order. Byte counts
// arrive at the time of the update that reported them (Transfer::last), so they are attributed
// to that bucket.
class VolumeSeries {
 public:
  void Add(std::int64_t index, std::int64_t t_ns, std::uint64_t l3, std::uint64_t payload,
           const SampleStats& sampling) {
    last_ns_ = std::max(last_ns_, t_ns);
    // Updates come in event-time order, so the right bucket is the last one or near it.
    auto it = buckets_.end();
    while (it != buckets_.begin() && std::prev(it)->index > index) --it;
    std::uint64_t add_l3 = l3;
    std::uint64_t add_payload = payload;
    if (it != buckets_.begin() && std::prev(it)->index == index) {
      --it;
      Bucket& b = *it;
      const std::uint64_t new_l3 = SatAdd(b.l3, l3);
      const std::uint64_t new_payload = SatAdd(b.payload, payload);
      add_l3 = new_l3 - b.l3;
      add_payload = new_payload - b.payload;
      b.l3 = new_l3;
      b.payload = new_payload;
      b.sampling += sampling;
      b.first_ns = std::min(b.first_ns, t_ns);
    } else {
      const std::uint64_t before_l3 = it == buckets_.begin() ? base_l3_ : std::prev(it)->cum_l3;
      const std::uint64_t before_payload =
          it == buckets_.begin() ? base_payload_ : std::prev(it)->cum_payload;
      // The running totals of this bucket and the ones after it grow below.
      const SampleStats before_sampling =
          it == buckets_.begin() ? base_sampling_ : std::prev(it)->cum_sampling;
      it = buckets_.insert(
          it, Bucket{index, t_ns, 0, 0, {}, before_l3, before_payload, before_sampling});
      it->l3 = l3;
      it->payload = payload;
      it->sampling = sampling;
    }
    for (; it != buckets_.end(); ++it) {
      it->cum_l3 += add_l3;  // modulo 2^64: differences stay exact below 18 EB
      it->cum_payload += add_payload;
      it->cum_sampling += sampling;
    }
  }
  // The latest byte time added, for alerts' last_seen.
  std::int64_t last_ns() const { return last_ns_; }
  // Buckets with index in [from, to]: two binary searches and a difference of running totals,
  // so a 7-day window of minute buckets costs as little as a 1-hour one.
  Sums Sum(std::int64_t from, std::int64_t to) const {
    Sums s;
    const auto lo = std::lower_bound(buckets_.begin(), buckets_.end(), from,
                                     [](const Bucket& b, std::int64_t i) { return b.index < i; });
    const auto hi = std::upper_bound(buckets_.begin(), buckets_.end(), to,
                                     [](std::int64_t i, const Bucket& b) { return i < b.index; });
    if (lo >= hi) return s;
    const std::uint64_t before_l3 = lo == buckets_.begin() ? base_l3_ : std::prev(lo)->cum_l3;
    const std::uint64_t before_payload =
        lo == buckets_.begin() ? base_payload_ : std::prev(lo)->cum_payload;
    s.l3_bytes = std::prev(hi)->cum_l3 - before_l3;
    s.payload_bytes = std::prev(hi)->cum_payload - before_payload;
    const SampleStats& before_sampling =
        lo == buckets_.begin() ? base_sampling_ : std::prev(lo)->cum_sampling;
    s.sampling.samples = std::prev(hi)->cum_sampling.samples - before_sampling.samples;
    // A difference of floating-point running totals: rounding may leave a trace below zero.
    s.sampling.payload_variance = std::max(
        0.0, std::prev(hi)->cum_sampling.payload_variance - before_sampling.payload_variance);
    // A bucket's first byte lies within the bucket's own span: the earliest in the range is
    // the first bucket's.
    s.first_ns = lo->first_ns;
    return s;
  }
  std::vector<VolumeBucketState> Export() const {
    std::vector<VolumeBucketState> out;
    for (const Bucket& b : buckets_) {
      out.push_back({b.index, b.first_ns, b.l3, b.payload, b.sampling});
    }
    return out;
  }
  void Import(const std::vector<VolumeBucketState>& buckets, std::int64_t last_ns) {
    buckets_.clear();
    base_l3_ = base_payload_ = 0;
    base_sampling_ = SampleStats{};
    std::uint64_t cum_l3 = 0;
    std::uint64_t cum_payload = 0;
    SampleStats cum_sampling;
    for (const VolumeBucketState& b : buckets) {
      cum_l3 += b.l3_bytes;
      cum_payload += b.payload_bytes;
      cum_sampling += b.sampling;
      buckets_.push_back(Bucket{b.index, b.first_ns, b.l3_bytes, b.payload_bytes, b.sampling,
                                cum_l3, cum_payload, cum_sampling});
    }
    last_ns_ = last_ns;
  }
  void DropBefore(std::int64_t index) {
    while (!buckets_.empty() && buckets_.front().index < index) {
      base_l3_ = buckets_.front().cum_l3;
      base_payload_ = buckets_.front().cum_payload;
      base_sampling_ = buckets_.front().cum_sampling;
      buckets_.pop_front();
    }
  }
  bool empty() const { return buckets_.empty(); }

 private:
  struct Bucket {
    std::int64_t index;
    std::int64_t first_ns;
    std::uint64_t l3;
    std::uint64_t payload;
    SampleStats sampling;
    std::uint64_t cum_l3;  // running totals through this bucket, modulo 2^64
    std::uint64_t cum_payload;
    SampleStats cum_sampling;  // (the variance's total is a double: see Sum)
  };
  std::deque<Bucket> buckets_;
  std::uint64_t base_l3_ = 0;  // running totals before the first bucket kept
  std::uint64_t base_payload_ = 0;
  SampleStats base_sampling_;
  std::int64_t last_ns_ = std::numeric_limits<std::int64_t>::min();
};

// One window's alert for one key (ingest: group and tenant; staging: uploader).
struct WindowAlert {
  bool active = false;
  // dataset_ingest: when a crossed alert last ended. No projection for one window length after,
  // so a window sliding just below its threshold does not turn into a projected alert at once.
  std::int64_t crossed_end_ns = std::numeric_limits<std::int64_t>::min();
  bool suppressed = false;  // staging: above threshold but the host has bulk history
  Alert alert;
  std::uint64_t reported_payload = 0;  // payload_bytes of the last version reported
};

struct IngestState {
  std::string key;
  std::string group_key;  // train_and_return's key: the group without the tenant
  Prefix group;
  std::string name;
  std::uint16_t tenant = 0;
  VolumeSeries series;
  std::vector<WindowAlert> windows;
};

struct StagingState {
  std::string key;
  Prefix uploader;
  Prefix storage;
  std::uint16_t tenant = 0;
  VolumeSeries series;
  WindowAlert wa;
};

// What the engine has taken from one transfer so far.
struct TransferTrack {
  std::uint64_t sent_l3 = 0;
  std::uint64_t sent_payload = 0;
  std::uint64_t received_l3 = 0;
  std::uint64_t received_payload = 0;
  SampleStats sent_sampling;
  SampleStats received_sampling;
  bool weight_decided = false;  // raised, or found allow-listed
  bool weight_allowed = false;
  std::optional<Alert> weight;
  std::uint64_t reported_payload = 0;
  std::optional<Alert> train;  // the train_and_return alert linked to `weight`
};

}  // namespace

struct DetectorEngine::Impl {
  DetectOptions o;
  const ModelCatalog* catalog;
  AlertSink* sink;
  std::int64_t now_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t start_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t last_prune_bucket = std::numeric_limits<std::int64_t>::min();
  DetectorCounters counters;

  std::unordered_map<std::uint64_t, TransferTrack> transfers;
  // Ordered maps: sweeps visit keys in a fixed order, so alerts come out in the same order on
  // every run.
  std::map<std::string, IngestState> ingest;
  std::map<std::string, StagingState> staging;
  std::map<std::string, IngestMemory> memory;
  std::set<std::string> active_ingest;
  std::set<std::string> active_staging;
  // For metrics, read from any thread: per ingest window, the largest sum any key holds.
  std::array<RelaxedCounter, kMaxPublishedWindows> window_peaks;

  void RaisePeak(std::size_t w, std::uint64_t payload) {
    if (w < window_peaks.size() && window_peaks[w].Get() < payload) window_peaks[w].Set(payload);
  }

  Impl(DetectOptions options, const ModelCatalog* c, AlertSink* s)
      : o(std::move(options)), catalog(c), sink(s) {
    if (o.bucket_ns <= 0) o.bucket_ns = 60 * kNanosPerSecond;
  }

  std::int64_t Bucket(std::int64_t t_ns) const { return FloorDiv(t_ns, o.bucket_ns); }

  std::string TenantName(std::uint16_t t) const {
    return t >= 1 && t <= o.tenant_names.size() ? o.tenant_names[t - 1u] : std::string();
  }

  bool Allowed(const Prefix& group, const std::string& name, capture::Direction d) const {
    for (const AllowRuleOptions& r : o.allow) {
      if (std::find(r.directions.begin(), r.directions.end(), d) == r.directions.end()) continue;
      if (!name.empty() && r.name == name) return true;
      for (const Prefix& p : r.prefixes) {
        if (Covers(p, group)) return true;
      }
    }
    return false;
  }

  AlertSeverity Severity(AlertSeverity base, const Prefix& group, const std::string& name,
                         const std::string& tenant) const {
    const bool sensitive =
        (!tenant.empty() && std::find(o.sensitive_tenants.begin(), o.sensitive_tenants.end(),
                                      tenant) != o.sensitive_tenants.end()) ||
        (!name.empty() && std::find(o.sensitive_groups.begin(), o.sensitive_groups.end(), name) !=
                              o.sensitive_groups.end()) ||
        std::any_of(o.sensitive_prefixes.begin(), o.sensitive_prefixes.end(),
                    [&](const Prefix& p) { return Overlaps(p, group); });
    return sensitive ? AlertSeverity::kCritical : base;
  }

  void Emit(const Alert& a) {
    ++counters.alert_versions;
    if (a.version == 1) ++counters.alerts;
    if (sink != nullptr) sink->OnAlert(a);
  }

  // ---- weight_transfer and train_and_return --------------------------------------------------

  void WeightTransfer(const Transfer& t, TransferTrack& tr) {
    const std::uint64_t payload = t.sent.payload_bytes;
    if (!tr.weight_decided) {
      if (t.kind != capture::Direction::kOutbound || payload < o.weight_transfer.min_size_bytes) {
        return;
      }
      tr.weight_decided = true;
      if (Allowed(t.external, t.external_name, capture::Direction::kOutbound)) {
        tr.weight_allowed = true;
        ++counters.allowed;
        return;
      }
      Alert a;
      a.id = AlertId(AlertKind::kWeightTransfer, t.id, t.first.ns);
      a.version = 1;
      a.kind = AlertKind::kWeightTransfer;
      a.inside = HostPrefix(t.inside);
      a.has_inside = true;
      a.external = t.external;
      a.external_name = t.external_name;
      a.direction = capture::Direction::kOutbound;
      a.tenant = TenantName(t.tenant);
      a.severity = Severity(AlertSeverity::kWarning, t.external, t.external_name, a.tenant);
      a.threshold_bytes = o.weight_transfer.min_size_bytes;
      a.transfer_id = t.id;
      FillWeight(t, a);
      tr.weight = a;
      tr.reported_payload = payload;
      Emit(a);
      TrainAndReturn(t, tr);
      return;
    }
    if (tr.weight_allowed || !tr.weight) return;
    Alert& a = *tr.weight;
    Alert next = a;
    FillWeight(t, next);
    // Growth and the end are news; a running transfer's nearest catalog entry is not: with
    // hundreds of sizes between 1 GB and 1 TB it changes every percent or two while a large
    // upload grows (a 685 GB upload gave 205 versions), and a partial size names no model.
    const bool grew =
        static_cast<double>(payload) >=
        static_cast<double>(tr.reported_payload) * (1.0 + o.weight_transfer.update_growth_fraction);
    if (!t.ended && !grew) {
      a = next;  // keep the latest numbers for Finish without reporting them
      return;
    }
    ++next.version;
    a = next;
    tr.reported_payload = payload;
    Emit(a);
    if (tr.train && t.ended) {
      Alert& r = *tr.train;
      ++r.version;
      r.state = AlertState::kEnded;
      r.last_seen = a.last_seen;
      r.bytes = a.bytes;
      r.payload_bytes = a.payload_bytes;
      r.sampling = a.sampling;
      r.flows = a.flows;
      r.model_match = a.model_match;
      r.model_alternatives = a.model_alternatives;
      Emit(r);
    }
  }

  void FillWeight(const Transfer& t, Alert& a) const {
    a.state = t.ended ? AlertState::kEnded : AlertState::kActive;
    a.first_seen = t.first;
    a.last_seen = t.last;
    a.bytes = t.sent.l3_bytes;
    a.payload_bytes = t.sent.payload_bytes;
    a.sampling = t.sent.sampling;
    a.flows = t.flows;
    // A sampled estimate is only known to within its error: it matches a catalog size within
    // kMatchSigmas standard errors when that is wider than the configured tolerance.
    double tolerance = o.weight_transfer.tolerance_fraction;
    if (a.sampling.sampled() && a.payload_bytes > 0) {
      tolerance = std::max(tolerance, kMatchSigmas * a.sampling.PayloadStddev() /
                                          static_cast<double>(a.payload_bytes));
    }
    a.model_match.reset();
    a.model_alternatives.clear();
    if (catalog != nullptr) {
      std::vector<ModelMatch> m =
          catalog->Matches(t.sent.payload_bytes, tolerance, 1 + kMaxModelAlternatives);
      if (!m.empty()) {
        a.model_match = std::move(m.front());
        a.model_alternatives.assign(std::make_move_iterator(m.begin() + 1),
                                    std::make_move_iterator(m.end()));
      }
    }
  }

  // The same named organisation, or overlapping prefixes (an ingest group may be coarser than
  // the sessionizer's, and a named group is represented by its first prefix).
  static bool MemoryMatches(const IngestMemory& m, const Transfer& t) {
    if (!m.group_name.empty() && m.group_name == t.external_name) return true;
    return Overlaps(m.group, t.external);
  }

  // Called once, when a weight_transfer alert is first raised.
  void TrainAndReturn(const Transfer& t, TransferTrack& tr) {
    const IngestMemory* best = nullptr;
    for (const auto& [key, m] : memory) {
      if (!MemoryMatches(m, t)) continue;
      if (m.first_seen > t.first) continue;  // the ingest must come first
      if (t.first.ns - m.last_seen.ns > o.train_and_return.within_ns) continue;
      if (best == nullptr || m.last_seen > best->last_seen) best = &m;
    }
    if (best == nullptr) return;
    const Alert& w = *tr.weight;
    Alert r = w;
    r.kind = AlertKind::kTrainAndReturn;
    r.id = AlertId(AlertKind::kTrainAndReturn, w.id, best->first_seen.ns);
    r.version = 1;
    r.severity = AlertSeverity::kCritical;
    r.first_seen = best->first_seen;
    r.linked_ids = best->alert_ids;
    r.linked_ids.push_back(w.id);
    r.state = w.state;  // a transfer first reported at its end gives an ended pair at once
    tr.train = r;
    Emit(r);
  }

  void Remember(const IngestState& s, const Alert& a) {
    IngestMemory& m = memory[s.group_key];
    if (m.alert_ids.empty()) {
      m.group_name = s.name;
      m.group = s.group;
      m.first_seen = a.first_seen;
    }
    if (std::find(m.alert_ids.begin(), m.alert_ids.end(), a.id) == m.alert_ids.end()) {
      m.alert_ids.push_back(a.id);
    }
    m.first_seen = std::min(m.first_seen, a.first_seen);
    m.last_seen = std::max(m.last_seen, a.last_seen);
    m.payload_bytes = std::max(m.payload_bytes, a.payload_bytes);
  }

  // ---- dataset_ingest -------------------------------------------------------------------------

  void IngestBytes(const Transfer& t, std::uint64_t l3, std::uint64_t payload,
                   const SampleStats& sampling) {
    if (o.ingest.windows.empty() || payload == 0) return;
    if (Allowed(t.external, t.external_name, capture::Direction::kInbound)) return;
    Prefix group = t.external;
    if (t.external_name.empty()) {
      const int want = group.IsV4() ? o.ingest.ipv4_group_len : o.ingest.ipv6_group_len;
      const int len = std::min(want, group.length);
      group = Prefix{group.network.Masked(len), len};
    }
    std::string group_key = t.external_name.empty() ? group.ToString() : "name:" + t.external_name;
    std::string key = group_key + "|" + std::to_string(t.tenant);
    auto [it, fresh] = ingest.try_emplace(key);
    IngestState& s = it->second;
    if (fresh) {
      s.key = key;
      s.group_key = std::move(group_key);
      s.group = group;
      s.name = t.external_name;
      s.tenant = t.tenant;
      s.windows.resize(o.ingest.windows.size());
    }
    s.series.Add(Bucket(t.last.ns), t.last.ns, l3, payload, sampling);
    EvaluateIngest(s);
  }

  void EvaluateIngest(IngestState& s) {
    const std::int64_t cur = Bucket(now_ns);
    bool any_active = false;
    for (std::size_t w = 0; w < o.ingest.windows.size(); ++w) {
      const IngestWindowOptions& wo = o.ingest.windows[w];
      WindowAlert& wa = s.windows[w];
      const std::int64_t n = CeilBuckets(wo.window_ns, o.bucket_ns);
      const Sums sum = s.series.Sum(cur - n + 1, cur);
      RaisePeak(w, sum.payload_bytes);
      const bool crossed = sum.payload_bytes > wo.threshold_bytes;
      std::optional<std::int64_t> eta_ns;
      const bool was_crossed = wa.active && !wa.alert.projected;
      const bool cooling = wa.crossed_end_ns != std::numeric_limits<std::int64_t>::min() &&
                           now_ns - wa.crossed_end_ns < wo.window_ns;
      if (!crossed && !was_crossed && !cooling) eta_ns = Projection(s.series, wo, sum);
      if (crossed || eta_ns) {
        if (!wa.active) {
          const std::int64_t cooled = wa.crossed_end_ns;
          wa = WindowAlert{};
          wa.crossed_end_ns = cooled;
          wa.active = true;
          Alert& a = wa.alert;
          a.id =
              AlertId(AlertKind::kDatasetIngest,
                      HashString(s.key) ^ Mix64(static_cast<std::uint64_t>(wo.window_ns)), now_ns);
          a.version = 0;
          a.kind = AlertKind::kDatasetIngest;
          a.first_seen = StreamTime{std::min(sum.first_ns, now_ns)};
          a.external = s.group;
          a.external_name = s.name;
          a.direction = capture::Direction::kInbound;
          a.tenant = TenantName(s.tenant);
          a.window_ns = wo.window_ns;
          a.threshold_bytes = wo.threshold_bytes;
        }
        Alert& a = wa.alert;
        const bool was_projected = a.version > 0 && a.projected;
        const bool first = a.version == 0;
        a.last_seen = StreamTime{s.series.last_ns()};
        a.bytes = std::max(a.bytes, sum.l3_bytes);
        if (sum.payload_bytes >= a.payload_bytes) {  // the peak, and the error it was known to
          a.payload_bytes = sum.payload_bytes;
          a.sampling = sum.sampling;
        }
        a.projected = !crossed;
        a.projected_crossing = eta_ns ? StreamTime{now_ns + *eta_ns} : StreamTime{};
        a.rate_bps = RateBps(s.series);
        a.severity = crossed ? Severity(AlertSeverity::kWarning, s.group, s.name, a.tenant)
                             : AlertSeverity::kInfo;
        // A projection is a forecast: it is re-reported only when the volume has doubled, so a
        // slowly filling window does not page anyone every few minutes. Crossed alerts report
        // every growth step like weight transfers.
        const double growth =
            a.projected ? kProjectedUpdateGrowth : o.weight_transfer.update_growth_fraction;
        const bool grew = static_cast<double>(a.payload_bytes) >=
                          static_cast<double>(wa.reported_payload) * (1.0 + growth);
        if (first || (was_projected && crossed) || grew) {
          ++a.version;
          wa.reported_payload = a.payload_bytes;
          Emit(a);
        }
        if (crossed) Remember(s, a);
        any_active = true;
      } else if (wa.active) {
        Alert& a = wa.alert;
        ++a.version;
        a.state = AlertState::kEnded;
        if (a.projected) a.rate_bps = RateBps(s.series);
        Emit(a);
        if (!a.projected) {
          Remember(s, a);
          wa.crossed_end_ns = now_ns;
        }
        wa.active = false;
      }
    }
    if (any_active) {
      active_ingest.insert(s.key);
    } else {
      active_ingest.erase(s.key);
    }
  }

  double RateBps(const VolumeSeries& series) const {
    const std::int64_t cur = Bucket(now_ns);
    const std::int64_t rn = CeilBuckets(o.ingest.rate_span_ns, o.bucket_ns);
    const Sums r = series.Sum(cur - rn + 1, cur);
    // The span is the full buckets plus the elapsed part of the current one.
    const std::int64_t span_ns = std::max<std::int64_t>(now_ns - (cur - rn + 1) * o.bucket_ns, 1);
    return static_cast<double>(r.payload_bytes) * 8e9 / static_cast<double>(span_ns);
  }

  // How long until the window passes its threshold at the recent rate, if within the window.
  std::optional<std::int64_t> Projection(const VolumeSeries& series, const IngestWindowOptions& wo,
                                         const Sums& sum) const {
    if (!(o.ingest.projection_min_fraction > 0)) return std::nullopt;
    if (static_cast<double>(sum.payload_bytes) <
        o.ingest.projection_min_fraction * static_cast<double>(wo.threshold_bytes)) {
      return std::nullopt;
    }
    const double bytes_per_ns = RateBps(series) / 8e9;
    if (!(bytes_per_ns > 0)) return std::nullopt;
    const double need = static_cast<double>(wo.threshold_bytes - sum.payload_bytes) + 1.0;
    const double eta = need / bytes_per_ns;
    if (eta > static_cast<double>(wo.window_ns)) return std::nullopt;
    return static_cast<std::int64_t>(eta);
  }

  // ---- staging_ingest -------------------------------------------------------------------------

  const Prefix* StorageOf(const Prefix& p) const {
    for (const Prefix& s : o.staging.storage) {
      if (Overlaps(s, p)) return &s;
    }
    return nullptr;
  }

  void StagingBytes(const Transfer& t, std::uint64_t sent_l3, std::uint64_t sent_payload,
                    const SampleStats& sent_sampling, std::uint64_t received_l3,
                    std::uint64_t received_payload, const SampleStats& received_sampling) {
    if (o.staging.storage.empty()) return;
    const Prefix inside = HostPrefix(t.inside);
    const Prefix* peer_storage = StorageOf(t.external);
    const Prefix* inside_storage = StorageOf(inside);
    Prefix uploader;
    const Prefix* storage = nullptr;
    std::uint64_t payload = 0;
    std::uint64_t l3 = 0;
    SampleStats sampling;
    if (peer_storage != nullptr && inside_storage == nullptr) {
      uploader = inside;  // the host pushes into storage
      storage = peer_storage;
      payload = sent_payload;
      l3 = sent_l3;
      sampling = sent_sampling;
    } else if (inside_storage != nullptr && peer_storage == nullptr) {
      uploader = t.external;  // storage pulls from the host; only its group is known
      storage = inside_storage;
      payload = received_payload;
      l3 = received_l3;
      sampling = received_sampling;
    } else {
      return;  // storage to storage (replication) or neither side is storage
    }
    if (payload == 0) return;
    if (Allowed(uploader, "", capture::Direction::kInternal)) return;
    const std::string key = uploader.ToString();
    auto [it, fresh] = staging.try_emplace(key);
    StagingState& s = it->second;
    if (fresh) {
      s.key = key;
      s.uploader = uploader;
      s.storage = *storage;
      s.tenant = t.tenant;
    }
    s.series.Add(Bucket(t.last.ns), t.last.ns, l3, payload, sampling);
    EvaluateStaging(s);
  }

  void EvaluateStaging(StagingState& s) {
    const std::int64_t cur = Bucket(now_ns);
    const std::int64_t n = CeilBuckets(o.staging.window_ns, o.bucket_ns);
    const Sums sum = s.series.Sum(cur - n + 1, cur);
    WindowAlert& wa = s.wa;
    const bool above = sum.payload_bytes > o.staging.threshold_bytes;
    if (!above) {
      wa.suppressed = false;
      if (wa.active) {
        Alert& a = wa.alert;
        ++a.version;
        a.state = AlertState::kEnded;
        Emit(a);
        wa.active = false;
      }
      active_staging.erase(s.key);
      return;
    }
    if (wa.suppressed) return;
    if (!wa.active) {
      if (now_ns - start_ns < o.staging.learning_ns) return;  // judged again on the next bytes
      const std::int64_t bn = CeilBuckets(o.staging.baseline_ns, o.bucket_ns);
      const Sums baseline = s.series.Sum(cur - n - bn + 1, cur - n);
      if (baseline.payload_bytes >= o.staging.baseline_max_bytes) {
        wa.suppressed = true;  // a host with bulk history: not staging, until it falls below
        return;
      }
      wa = WindowAlert{};
      wa.active = true;
      Alert& a = wa.alert;
      a.id = AlertId(AlertKind::kStagingIngest, HashString(s.key), now_ns);
      a.version = 1;
      a.kind = AlertKind::kStagingIngest;
      a.first_seen = StreamTime{std::min(sum.first_ns, now_ns)};
      a.last_seen = StreamTime{s.series.last_ns()};
      a.inside = s.uploader;
      a.has_inside = true;
      a.external = s.storage;
      a.direction = capture::Direction::kInternal;
      a.tenant = TenantName(s.tenant);
      a.severity = Severity(AlertSeverity::kWarning, s.uploader, "", a.tenant);
      a.window_ns = o.staging.window_ns;
      a.threshold_bytes = o.staging.threshold_bytes;
      a.bytes = sum.l3_bytes;
      a.payload_bytes = sum.payload_bytes;
      a.sampling = sum.sampling;
      wa.reported_payload = a.payload_bytes;
      Emit(a);
      active_staging.insert(s.key);
      return;
    }
    Alert& a = wa.alert;
    a.last_seen = StreamTime{s.series.last_ns()};
    a.bytes = std::max(a.bytes, sum.l3_bytes);
    if (sum.payload_bytes >= a.payload_bytes) {
      a.payload_bytes = sum.payload_bytes;
      a.sampling = sum.sampling;
    }
    if (static_cast<double>(a.payload_bytes) >=
        static_cast<double>(wa.reported_payload) *
            (1.0 + o.weight_transfer.update_growth_fraction)) {
      ++a.version;
      wa.reported_payload = a.payload_bytes;
      Emit(a);
    }
  }

  // ---- time -----------------------------------------------------------------------------------

  // Moves the clock only; Sweep does what time passing implies.
  void SetNow(std::int64_t t_ns) {
    if (start_ns == std::numeric_limits<std::int64_t>::min()) start_ns = t_ns;
    now_ns = std::max(now_ns, t_ns);
  }

  void Advance(std::int64_t t_ns) {
    SetNow(t_ns);
    Sweep();
  }

  void Sweep() {
    // Window alerts can end, and projections lapse, with no new bytes for their key.
    const std::vector<std::string> ik(active_ingest.begin(), active_ingest.end());
    for (const std::string& k : ik) EvaluateIngest(ingest.at(k));
    const std::vector<std::string> sk(active_staging.begin(), active_staging.end());
    for (const std::string& k : sk) EvaluateStaging(staging.at(k));
    const std::int64_t cur = Bucket(now_ns);
    if (cur != last_prune_bucket) {
      last_prune_bucket = cur;
      Prune(cur);
    }
  }

  void Prune(std::int64_t cur) {
    std::int64_t keep = CeilBuckets(o.ingest.rate_span_ns, o.bucket_ns);
    for (const IngestWindowOptions& w : o.ingest.windows) {
      keep = std::max(keep, CeilBuckets(w.window_ns, o.bucket_ns));
    }
    std::array<std::uint64_t, kMaxPublishedWindows> peaks{};
    for (auto it = ingest.begin(); it != ingest.end();) {
      it->second.series.DropBefore(cur - keep + 1);
      for (std::size_t w = 0; w < o.ingest.windows.size() && w < peaks.size(); ++w) {
        const std::int64_t n = CeilBuckets(o.ingest.windows[w].window_ns, o.bucket_ns);
        peaks[w] = std::max(peaks[w], it->second.series.Sum(cur - n + 1, cur).payload_bytes);
      }
      if (it->second.series.empty() && active_ingest.count(it->first) == 0) {
        it = ingest.erase(it);
      } else {
        ++it;
      }
    }
    for (std::size_t w = 0; w < peaks.size(); ++w) window_peaks[w].Set(peaks[w]);
    const std::int64_t skeep = CeilBuckets(o.staging.window_ns, o.bucket_ns) +
                               CeilBuckets(o.staging.baseline_ns, o.bucket_ns);
    for (auto it = staging.begin(); it != staging.end();) {
      it->second.series.DropBefore(cur - skeep + 1);
      if (it->second.series.empty() && !it->second.wa.active) {
        it = staging.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = memory.begin(); it != memory.end();) {
      if (now_ns - it->second.last_seen.ns > o.train_and_return.within_ns) {
        it = memory.erase(it);
      } else {
        ++it;
      }
    }
  }

  void OnTransfer(const Transfer& t) {
    ++counters.transfers;
    // New bytes are counted before the sweep, so a window that stays above its threshold is not
    // ended and raised again when a bucket slides out at the same moment.
    SetNow(t.last.ns);
    TransferTrack& tr = transfers[t.id];
    // Counters only grow within a transfer; take what is new since its previous version.
    auto delta = [](std::uint64_t now_v, std::uint64_t& seen) {
      const std::uint64_t d = now_v >= seen ? now_v - seen : 0;
      seen = std::max(seen, now_v);
      return d;
    };
    const std::uint64_t d_sent_l3 = delta(t.sent.l3_bytes, tr.sent_l3);
    const std::uint64_t d_sent_payload = delta(t.sent.payload_bytes, tr.sent_payload);
    const std::uint64_t d_recv_l3 = delta(t.received.l3_bytes, tr.received_l3);
    const std::uint64_t d_recv_payload = delta(t.received.payload_bytes, tr.received_payload);
    auto delta_sampling = [&delta](const SampleStats& now_v, SampleStats& seen) {
      SampleStats d;
      d.samples = delta(now_v.samples, seen.samples);
      d.payload_variance = std::max(0.0, now_v.payload_variance - seen.payload_variance);
      seen.payload_variance = std::max(seen.payload_variance, now_v.payload_variance);
      return d;
    };
    const SampleStats d_sent_sampling = delta_sampling(t.sent.sampling, tr.sent_sampling);
    const SampleStats d_recv_sampling = delta_sampling(t.received.sampling, tr.received_sampling);
    if (t.kind == capture::Direction::kInternal) {
      StagingBytes(t, d_sent_l3, d_sent_payload, d_sent_sampling, d_recv_l3, d_recv_payload,
                   d_recv_sampling);
    } else {
      IngestBytes(t, d_recv_l3, d_recv_payload, d_recv_sampling);
      WeightTransfer(t, tr);
    }
    if (t.ended) transfers.erase(t.id);
    Sweep();
  }

  void Finish() {
    // Transfers the sessionizer never ended (it should have: FlushAll first).
    std::vector<std::uint64_t> ids;
    for (const auto& [id, tr] : transfers) {
      if (tr.weight) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    for (std::uint64_t id : ids) {
      TransferTrack& tr = transfers.at(id);
      Alert& a = *tr.weight;
      ++a.version;
      a.state = AlertState::kEnded;
      Emit(a);
      if (tr.train) {
        Alert& r = *tr.train;
        ++r.version;
        r.state = AlertState::kEnded;
        r.bytes = a.bytes;
        r.payload_bytes = a.payload_bytes;
        r.sampling = a.sampling;
        r.model_match = a.model_match;
        r.model_alternatives = a.model_alternatives;
        r.last_seen = a.last_seen;
        Emit(r);
      }
    }
    transfers.clear();
    for (const std::string& k :
         std::vector<std::string>(active_ingest.begin(), active_ingest.end())) {
      IngestState& s = ingest.at(k);
      for (WindowAlert& wa : s.windows) {
        if (!wa.active) continue;
        Alert& a = wa.alert;
        ++a.version;
        a.state = AlertState::kEnded;
        Emit(a);
        if (!a.projected) Remember(s, a);
        wa.active = false;
      }
    }
    active_ingest.clear();
    for (const std::string& k :
         std::vector<std::string>(active_staging.begin(), active_staging.end())) {
      WindowAlert& wa = staging.at(k).wa;
      Alert& a = wa.alert;
      ++a.version;
      a.state = AlertState::kEnded;
      Emit(a);
      wa.active = false;
    }
    active_staging.clear();
  }
};

DetectorEngine::DetectorEngine(DetectOptions options, const ModelCatalog* catalog, AlertSink* sink)
    : impl_(std::make_unique<Impl>(std::move(options), catalog, sink)) {}

DetectorEngine::~DetectorEngine() = default;

void DetectorEngine::OnTransfer(const Transfer& t) {
  impl_->OnTransfer(t);
}

void DetectorEngine::AdvanceTo(StreamTime now) {
  impl_->Advance(now.ns);
}

void DetectorEngine::Finish() {
  impl_->Finish();
}

namespace {

WindowAlertState ExportWindow(const WindowAlert& w) {
  return WindowAlertState{w.active, w.crossed_end_ns, w.suppressed, w.alert, w.reported_payload};
}
WindowAlert ImportWindow(const WindowAlertState& w) {
  WindowAlert out;
  out.active = w.active;
  out.crossed_end_ns = w.crossed_end_ns;
  out.suppressed = w.suppressed;
  out.alert = w.alert;
  out.reported_payload = w.reported_payload_bytes;
  return out;
}

}  // namespace

DetectorState DetectorEngine::ExportState() const {
  const Impl& m = *impl_;
  DetectorState st;
  st.started = m.now_ns != std::numeric_limits<std::int64_t>::min();
  st.now_ns = st.started ? m.now_ns : 0;
  st.start_ns = m.start_ns == std::numeric_limits<std::int64_t>::min() ? 0 : m.start_ns;
  std::vector<std::uint64_t> ids;
  for (const auto& [id, tr] : m.transfers) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (const std::uint64_t id : ids) {
    const TransferTrack& tr = m.transfers.at(id);
    st.transfers.push_back({id, tr.sent_l3, tr.sent_payload, tr.received_l3, tr.received_payload,
                            tr.sent_sampling, tr.received_sampling, tr.weight_decided,
                            tr.weight_allowed, tr.weight, tr.reported_payload, tr.train});
  }
  for (const auto& [key, s] : m.ingest) {
    VolumeState v;
    v.key = s.key;
    v.group_key = s.group_key;
    v.group = s.group;
    v.name = s.name;
    v.tenant = s.tenant;
    v.buckets = s.series.Export();
    v.last_ns = s.series.last_ns();
    for (const WindowAlert& w : s.windows) v.windows.push_back(ExportWindow(w));
    st.ingest.push_back(std::move(v));
  }
  for (const auto& [key, s] : m.staging) {
    VolumeState v;
    v.key = s.key;
    v.group = s.uploader;
    v.storage = s.storage;
    v.tenant = s.tenant;
    v.buckets = s.series.Export();
    v.last_ns = s.series.last_ns();
    v.windows.push_back(ExportWindow(s.wa));
    st.staging.push_back(std::move(v));
  }
  st.memory = ExportMemory();
  return st;
}

void DetectorEngine::ImportState(DetectorState st) {
  Impl& m = *impl_;
  if (st.started) {
    m.now_ns = st.now_ns;
    m.start_ns = st.start_ns;
  }
  for (TransferTrackState& t : st.transfers) {
    TransferTrack tr;
    tr.sent_l3 = t.sent_l3_bytes;
    tr.sent_payload = t.sent_payload_bytes;
    tr.received_l3 = t.received_l3_bytes;
    tr.received_payload = t.received_payload_bytes;
    tr.sent_sampling = t.sent_sampling;
    tr.received_sampling = t.received_sampling;
    tr.weight_decided = t.weight_decided;
    tr.weight_allowed = t.weight_allowed;
    tr.weight = std::move(t.weight);
    tr.reported_payload = t.reported_payload_bytes;
    tr.train = std::move(t.train);
    m.transfers[t.transfer_id] = std::move(tr);
  }
  for (VolumeState& v : st.ingest) {
    IngestState s;
    s.key = v.key;
    s.group_key = v.group_key;
    s.group = v.group;
    s.name = v.name;
    s.tenant = v.tenant;
    s.series.Import(v.buckets, v.last_ns);
    for (const WindowAlertState& w : v.windows) s.windows.push_back(ImportWindow(w));
    // The window list may have changed since: one entry per configured window.
    s.windows.resize(m.o.ingest.windows.size());
    for (const WindowAlert& w : s.windows) {
      if (w.active) m.active_ingest.insert(s.key);
    }
    m.ingest[v.key] = std::move(s);
  }
  for (VolumeState& v : st.staging) {
    StagingState s;
    s.key = v.key;
    s.uploader = v.group;
    s.storage = v.storage;
    s.tenant = v.tenant;
    s.series.Import(v.buckets, v.last_ns);
    if (!v.windows.empty()) s.wa = ImportWindow(v.windows.front());
    if (s.wa.active) m.active_staging.insert(s.key);
    m.staging[v.key] = std::move(s);
  }
  ImportMemory(std::move(st.memory));
}

std::uint64_t DetectorEngine::IngestWindowPeak(std::size_t window) const {
  return window < kMaxPublishedWindows ? impl_->window_peaks[window].Get() : 0;
}

void DetectorEngine::Reconfigure(DetectOptions options, const ModelCatalog* catalog) {
  options.bucket_ns = impl_->o.bucket_ns;
  impl_->o = std::move(options);
  impl_->catalog = catalog;
}

StreamTime DetectorEngine::now() const {
  return StreamTime{impl_->now_ns == std::numeric_limits<std::int64_t>::min() ? 0 : impl_->now_ns};
}

const DetectorCounters& DetectorEngine::counters() const {
  return impl_->counters;
}

std::vector<IngestMemory> DetectorEngine::ExportMemory() const {
  std::vector<IngestMemory> out;
  out.reserve(impl_->memory.size());
  for (const auto& [key, m] : impl_->memory) out.push_back(m);
  return out;
}

void DetectorEngine::ImportMemory(std::vector<IngestMemory> memory) {
  impl_->memory.clear();
  for (IngestMemory& m : memory) {
    const std::string key = m.group_name.empty() ? m.group.ToString() : "name:" + m.group_name;
    impl_->memory[key] = std::move(m);
  }
}

}  // namespace weighbridge::analytics
