#include "history_query.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>

#include "config.h"

namespace weighbridge::app {

namespace {

constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::int64_t FloorTo(std::int64_t ns, std::int64_t step) {
  std::int64_t q = ns / step;
  if (ns % step != 0 && ns < 0) --q;
  return q * step;
}

std::string TenantName(std::uint16_t tenant, const std::vector<std::string>& names) {
  return tenant == 0 || tenant > names.size() ? std::string() : names[tenant - 1];
}

}  // namespace

std::string ParseRfc3339(std::string_view s, std::int64_t* ns) {
  const std::string bad = "\"" + std::string(s) +
                          "\" is not a duration or an RFC 3339 time (e.g. 2h, 7d or "
                          "2026-01-01T00:00:00Z)";
  int year = 0, mon = 0, day = 0, hh = 0, mm = 0, ss = 0;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mon) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hh) || s[13] != ':' || !Digits(s, 14, 2, &mm) || s[16] != ':' ||
      !Digits(s, 17, 2, &ss)) {
    return bad;
  }
  static constexpr int kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (mon < 1 || mon > 12 || day < 1 || day > kMonthDays[mon - 1] ||
      (mon == 2 && day == 29 && !leap) || hh > 23 || mm > 59 || ss > 60) {
    return "\"" + std::string(s) + "\" is not a valid date and time";
  }
  std::size_t pos = 19;
  std::int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t scale = 100'000'000;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return "\"" + std::string(s) + "\" has no time zone (end it with Z or +HH:MM)";
  }
  if (pos != s.size()) return bad;
  const std::int64_t secs =
      DaysFromCivil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + std::min(ss, 59) - offset_s;
  *ns = secs * kNanosPerSecond + frac_ns;
  return "";
}

std::string ParseTimeBound(std::string_view text, std::int64_t newest_ns, std::int64_t* ns) {
  std::int64_t d = 0;
  if (!text.empty() && text[0] >= '0' && text[0] <= '9' &&
      text.find('-') == std::string_view::npos && text.find(':') == std::string_view::npos) {
    if (std::string why = ParseDuration(text, &d); !why.empty()) return why;
    *ns = newest_ns == kMinTime ? kMinTime : newest_ns - d;
    return "";
  }
  return ParseRfc3339(text, ns);
}

bool PrefixesOverlap(const Prefix& x, const Prefix& y) {
  if (x.IsV4() != y.IsV4()) return false;
  return x.length <= y.length ? x.Contains(y.network) : y.Contains(x.network);
}

Status QueryAlerts(const store::History& h, const HistoryFilter& f,
                   std::vector<analytics::Alert>* out) {
  std::unordered_map<std::uint64_t, std::size_t> latest;  // id -> index in out
  Status s = h.ScanAlerts(f.range, [&](const analytics::Alert& a) {
    if (a.bytes < f.min_bytes) return true;
    if (f.inside && !(a.has_inside && PrefixesOverlap(*f.inside, a.inside))) return true;
    if (f.external && !PrefixesOverlap(*f.external, a.external)) return true;
    if (f.tenant && a.tenant != *f.tenant) return true;
    if (f.kind && analytics::AlertKindName(a.kind) != *f.kind) return true;
    if (f.latest_only) {
      auto [it, inserted] = latest.try_emplace(a.id, out->size());
      if (!inserted) {
        if ((*out)[it->second].version < a.version) (*out)[it->second] = a;
        return true;
      }
    }
    out->push_back(a);
    return true;
  });
  return s;
}

Status QueryTransfers(const store::History& h, const HistoryFilter& f,
                      const std::vector<std::string>& tenant_names,
                      std::vector<analytics::Transfer>* out) {
  return h.ScanTransfers(f.range, [&](const analytics::Transfer& t) {
    if (t.sent.l3_bytes + t.received.l3_bytes < f.min_bytes) return true;
    if (f.inside && !f.inside->Contains(t.inside)) return true;
    if (f.external && !PrefixesOverlap(*f.external, t.external)) return true;
    if (f.tenant && TenantName(t.tenant, tenant_names) != *f.tenant) return true;
    if (f.kind && capture::DirectionName(t.kind) != *f.kind) return true;
    out->push_back(t);
    return true;
  });
}

Status QueryFlows(const store::History& h, const HistoryFilter& f,
                  const std::vector<std::string>& tenant_names, std::vector<FlowRow>* out) {
  std::unordered_map<std::uint64_t, FlowRow> flows;
  Status s = h.ScanFlows(f.range, [&](const analytics::FlowUpdate& u) {
    // The inside and external ends follow from the direction of the flow's first packet.
    const bool a_inside = u.direction == capture::Direction::kOutbound ||
                          u.direction == capture::Direction::kInternal;
    const bool b_inside =
        u.direction == capture::Direction::kInbound || u.direction == capture::Direction::kInternal;
    if (f.inside &&
        !((a_inside && f.inside->Contains(u.key.a)) || (b_inside && f.inside->Contains(u.key.b)))) {
      return true;
    }
    if (f.external && !((!a_inside && f.external->Contains(u.key.a)) ||
                        (!b_inside && f.external->Contains(u.key.b)))) {
      return true;
    }
    if (f.tenant && TenantName(u.tenant, tenant_names) != *f.tenant) return true;
    if (f.kind && capture::DirectionName(u.direction) != *f.kind) return true;
    auto [it, inserted] = flows.try_emplace(u.flow_id);
    FlowRow& r = it->second;
    if (inserted) {
      r.line.key = u.key;
      r.line.flow_id = u.flow_id;
      r.line.first = u.first;
      r.direction = u.direction;
      r.tenant = u.tenant;
    }
    r.line.first = std::min(r.line.first, u.first);
    r.line.last = std::max(r.line.last, u.last);
    r.line.a_to_b += u.a_to_b;
    r.line.b_to_a += u.b_to_a;
    return true;
  });
  if (!s.ok()) return s;
  out->reserve(out->size() + flows.size());
  for (auto& [id, row] : flows) {
    if (row.line.a_to_b.l3_bytes + row.line.b_to_a.l3_bytes < f.min_bytes) continue;
    out->push_back(std::move(row));
  }
  std::sort(out->begin(), out->end(), [](const FlowRow& x, const FlowRow& y) {
    return x.line.first != y.line.first ? x.line.first < y.line.first
                                        : x.line.flow_id < y.line.flow_id;
  });
  return Status::Ok();
}

Status QueryRollups(const store::History& h, const HistoryFilter& f, store::RollupEntity entity,
                    std::int64_t step_ns, const std::vector<std::string>& tenant_names,
                    std::vector<RollupRow>* out) {
  constexpr std::int64_t kMinute = store::RollupStepNanos(store::RollupStep::kMinute);
  constexpr std::int64_t kHour = store::RollupStepNanos(store::RollupStep::kHour);
  // Rows are per minute: a range starts and ends on minute edges.
  const std::int64_t since =
      f.range.since_ns == kMinTime ? kMinTime : FloorTo(f.range.since_ns, kMinute);
  const std::int64_t until = f.range.until_ns;
  using Key = std::tuple<std::int64_t, IpAddress, int>;
  std::map<Key, RollupRow> acc;
  auto add = [&](const store::RollupRecord& r) {
    if (r.entity != entity) return true;
    if (entity == store::RollupEntity::kInsideHost) {
      if (f.inside && !f.inside->Contains(r.subject.network)) return true;
      if (f.tenant && TenantName(r.tenant, tenant_names) != *f.tenant) return true;
      if (f.external) return true;  // hosts are not external
    } else {
      if (f.external && !PrefixesOverlap(*f.external, r.subject)) return true;
      if (f.inside || f.tenant) return true;
    }
    const std::int64_t bucket = step_ns == 0 ? since : FloorTo(r.minute_ns, step_ns);
    RollupRow& row = acc[Key{bucket, r.subject.network, r.subject.length}];
    row.bucket_ns = bucket;
    row.entity = r.entity;
    row.subject = r.subject;
    if (r.tenant != 0) row.tenant = r.tenant;
    row.counters += r.counters;
    return true;
  };
  // Hour rows for whole hours when every bucket is made of whole hours; minute rows at the edges.
  const bool hours_fit = step_ns == 0 || step_ns % kHour == 0;
  const std::int64_t h1 = since == kMinTime ? kMinTime : -FloorTo(-since, kHour);
  const std::int64_t h2 = until == kMaxTime ? kMaxTime : FloorTo(until, kHour);
  Status s;
  if (hours_fit && h1 < h2) {
    s = h.ScanRollups(store::RollupStep::kMinute, {since, h1}, add);
    if (s.ok()) s = h.ScanRollups(store::RollupStep::kHour, {h1, h2}, add);
    if (s.ok()) s = h.ScanRollups(store::RollupStep::kMinute, {h2, until}, add);
  } else {
    s = h.ScanRollups(store::RollupStep::kMinute, {since, until}, add);
  }
  if (!s.ok()) return s;
  out->reserve(out->size() + acc.size());
  for (auto& [k, row] : acc) {
    if (row.TotalBytes() < f.min_bytes) continue;
    out->push_back(row);
  }
  return Status::Ok();
}

std::vector<RollupRow> TopPerBucket(std::vector<RollupRow> rows, std::size_t n) {
  std::stable_sort(rows.begin(), rows.end(), [](const RollupRow& x, const RollupRow& y) {
    if (x.bucket_ns != y.bucket_ns) return x.bucket_ns < y.bucket_ns;
    if (x.TotalBytes() != y.TotalBytes()) return x.TotalBytes() > y.TotalBytes();
    return std::tie(x.subject.network, x.subject.length) <
           std::tie(y.subject.network, y.subject.length);
  });
  std::vector<RollupRow> out;
  std::size_t in_bucket = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    in_bucket = i > 0 && rows[i].bucket_ns == rows[i - 1].bucket_ns ? in_bucket + 1 : 0;
    if (n == 0 || in_bucket < n) out.push_back(rows[i]);
  }
  return out;
}

}  // namespace weighbridge::app
