#include "history_cmd.h"

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "flow_output.h"
#include "history_query.h"
#include "weighbridge/store/history.h"

namespace weighbridge::app {

namespace {

constexpr const char* kHistoryUsage =
    R"(usage: weighbridge history transfers|alerts|flows|hosts|top [options]

Queries the RocksDB history that `run` and `replay --db` write. The database is opened
read-only (a RocksDB secondary instance), so a query works while the daemon is writing.

what:
  transfers          transfers (latest version of each), by first packet time
  alerts             alert versions, as --alerts-out printed them (--latest: newest per id)
  flows              flows, their updates in the range added up, as --flows-out prints them
  hosts              a timeline per inside host from the per-minute rollups (bytes in/out)
  top                top talkers per window: inside hosts (--by external: peer groups)

options:
  --db PATH          the history directory (default: history.path of --config)
  --config FILE      a weighbridge config: history.path, and tenant names when the
                     database has none
  --since T          from T; T is a duration counted back from the NEWEST RECORD in the
                     database (stream time, not the wall clock: 2h = the last two hours of
                     what was recorded) or an RFC 3339 time (2026-01-01T00:00:00Z)
  --until T          up to T (exclusive), same forms; default: the end
                     A record is in the range when its span overlaps it (flows: their
                     update times; hosts, top: minutes)
  --min-bytes SIZE   at least SIZE L3 bytes both ways (alerts: their bytes; hosts and top:
                     per row), e.g. 1GB, 16GiB
  --inside PREFIX    the inside host lies in PREFIX (10.1.2.3, 10.1.0.0/16)
  --external PREFIX  the external peer (group) overlaps PREFIX
  --tenant NAME      the inside host's tenant
  --kind KIND        alerts: weight_transfer, dataset_ingest, staging_ingest,
                     train_and_return; transfers: outbound, inbound, internal; flows:
                     also transit
  --latest           alerts: only the newest version of each alert
  --step D           hosts, top: bucket length, a whole number of minutes (hosts default
                     1h; top default: one window over the whole range)
  --by host|external top: rank inside hosts (default) or external peer groups
  --format F         table (default), json (one object per line) or csv
  --limit N          at most N rows (top: per window, default 10; others: all)

exit codes: 0 ok, 1 the database could not be read, 2 bad usage or config.
)";

int Usage(const std::string& error) {
  std::fprintf(stderr, "weighbridge history: %s\n\n%s", error.c_str(), kHistoryUsage);
  return kExitUsage;
}

enum class Format { kTable, kJson, kCsv };

// Rows of strings printed as an aligned table or as CSV.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(Format f) const {
    if (f == Format::kCsv) {
      PrintCsvRow(header_);
      for (const auto& r : rows_) PrintCsvRow(r);
      return;
    }
    std::vector<std::size_t> width(header_.size());
    for (std::size_t i = 0; i < header_.size(); ++i) width[i] = header_[i].size();
    for (const auto& r : rows_) {
      for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) {
        width[i] = std::max(width[i], r[i].size());
      }
    }
    auto line = [&](const std::vector<std::string>& r) {
      std::string s;
      for (std::size_t i = 0; i < r.size(); ++i) {
        s += r[i];
        if (i + 1 < r.size()) s += std::string(width[i] - r[i].size() + 2, ' ');
      }
      std::printf("%s\n", s.c_str());
    };
    line(header_);
    for (const auto& r : rows_) line(r);
  }

 private:
  static void PrintCsvRow(const std::vector<std::string>& r) {
    std::string s;
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i > 0) s += ',';
      if (r[i].find_first_of(",\"\n") != std::string::npos) {
        s += '"';
        for (char c : r[i]) {
          if (c == '"') s += '"';
          s += c;
        }
        s += '"';
      } else {
        s += r[i];
      }
    }
    std::printf("%s\n", s.c_str());
  }
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Bytes for people: decimal units, three significant digits ("141 GB", "1.20 TB").
std::string HumanBytes(std::uint64_t b, Format f) {
  if (f != Format::kTable) return std::to_string(b);
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 6) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " B", b);
  } else {
    std::snprintf(buf, sizeof(buf),
                  v < 10    ? "%.2f %s"
                  : v < 100 ? "%.1f %s"
                            : "%.0f %s",
                  v, kUnits[u]);
  }
  return buf;
}

// A JSON value as a table cell: strings bare, null empty.
std::string Cell(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

int HistoryCommand(std::span<const std::string_view> argv) {
  Args args(argv,
            {"--db", "--config", "--since", "--until", "--min-bytes", "--inside", "--external",
             "--tenant", "--kind", "--format", "--limit", "--step", "--by"},
            {"--help", "--latest"});
  if (args.Has("--help")) {
    std::fputs(kHistoryUsage, stdout);
    return kExitOk;
  }
  if (!args.error().empty()) return Usage(args.error());
  if (args.positionals().size() != 1) {
    return Usage("history needs exactly one of transfers, alerts, flows, hosts, top");
  }
  const std::string what = args.positionals()[0];
  if (what != "transfers" && what != "alerts" && what != "flows" && what != "hosts" &&
      what != "top") {
    return Usage("unknown query \"" + what + "\" (transfers, alerts, flows, hosts or top)");
  }
  const auto limit_arg = args.Unsigned("--limit", 0, std::numeric_limits<std::uint32_t>::max());
  if (!args.error().empty()) return Usage(args.error());
  const std::string format_text = args.Value("--format").value_or("table");
  Format format = Format::kTable;
  if (format_text == "json") {
    format = Format::kJson;
  } else if (format_text == "csv") {
    format = Format::kCsv;
  } else if (format_text != "table") {
    return Usage("--format must be table, json or csv, not \"" + format_text + "\"");
  }

  HistoryFilter filter;
  filter.latest_only = args.Has("--latest");
  if (filter.latest_only && what != "alerts") return Usage("--latest applies to alerts only");
  if (auto v = args.Value("--min-bytes")) {
    if (std::string why = ParseSize(*v, &filter.min_bytes); !why.empty()) {
      return Usage("--min-bytes: " + why);
    }
  }
  for (const char* name : {"--inside", "--external"}) {
    if (auto v = args.Value(name)) {
      std::string why;
      auto p = Prefix::Parse(*v, &why);
      if (!p) return Usage(std::string(name) + ": \"" + *v + "\" is not a prefix (" + why + ")");
      (std::string_view(name) == "--inside" ? filter.inside : filter.external) = *p;
    }
  }
  filter.tenant = args.Value("--tenant");
  filter.kind = args.Value("--kind");
  if (filter.kind) {
    std::vector<std::string> kinds;
    if (what == "alerts") {
      for (std::size_t i = 0; i < static_cast<std::size_t>(analytics::AlertKind::kCount); ++i) {
        kinds.emplace_back(analytics::AlertKindName(static_cast<analytics::AlertKind>(i)));
      }
    } else if (what == "transfers" || what == "flows") {
      kinds = {"outbound", "inbound", "internal"};
      if (what == "flows") kinds.emplace_back("transit");
    } else {
      return Usage("--kind applies to alerts, transfers and flows");
    }
    if (std::find(kinds.begin(), kinds.end(), *filter.kind) == kinds.end()) {
      std::string list;
      for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
      return Usage("--kind for " + what + " must be one of " + list + ", not \"" + *filter.kind +
                   "\"");
    }
  }
  std::int64_t step_ns = what == "hosts" ? 3600 * kNanosPerSecond : 0;
  if (auto v = args.Value("--step")) {
    if (what != "hosts" && what != "top") return Usage("--step applies to hosts and top");
    if (std::string why = ParseDuration(*v, &step_ns); !why.empty()) return Usage("--step: " + why);
    if (step_ns <= 0 || step_ns % (60 * kNanosPerSecond) != 0) {
      return Usage("--step must be a whole number of minutes (e.g. 1m, 15m, 1h, 1d)");
    }
  }
  store::RollupEntity by = store::RollupEntity::kInsideHost;
  if (auto v = args.Value("--by")) {
    if (what != "top") return Usage("--by applies to top");
    if (*v == "external") {
      by = store::RollupEntity::kExternalGroup;
    } else if (*v != "host") {
      return Usage("--by must be host or external, not \"" + *v + "\"");
    }
  }

  std::string path = args.Value("--db").value_or("");
  std::vector<std::string> config_tenants;
  if (auto config_path = args.Value("--config")) {
    auto loaded = LoadConfigFile(*config_path);
    if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
      for (const std::string& line : errors->lines) std::fprintf(stderr, "%s\n", line.c_str());
      return kExitUsage;
    }
    const Config& config = std::get<Config>(loaded);
    if (path.empty()) path = config.history.path;
    for (const auto& t : config.site.tenants) config_tenants.push_back(t.name);
    if (path.empty()) return Usage(*config_path + ": history.path is not set (or give --db PATH)");
  }
  if (path.empty()) return Usage("give --db PATH or --config FILE");

  auto opened = store::History::OpenReadOnly(path);
  if (!opened.ok()) {
    std::fprintf(stderr, "weighbridge history: %s\n", opened.error().c_str());
    return kExitFailure;
  }
  const store::History& h = **opened;
  auto newest = h.NewestStreamTime();
  if (!newest.ok()) {
    std::fprintf(stderr, "weighbridge history: %s\n", newest.error().c_str());
    return kExitFailure;
  }
  const std::int64_t newest_ns = newest->value_or(std::numeric_limits<std::int64_t>::min());
  for (const char* name : {"--since", "--until"}) {
    if (auto v = args.Value(name)) {
      std::int64_t t = 0;
      if (std::string why = ParseTimeBound(*v, newest_ns, &t); !why.empty()) {
        return Usage(std::string(name) + ": " + why);
      }
      (std::string_view(name) == "--since" ? filter.range.since_ns : filter.range.until_ns) = t;
    }
  }
  std::vector<std::string> tenants;
  if (auto t = h.TenantNames(); t.ok()) tenants = *t;
  if (tenants.empty()) tenants = config_tenants;

  const std::size_t limit =
      limit_arg ? static_cast<std::size_t>(*limit_arg) : (what == "top" ? 10 : 0);
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "weighbridge history: %s\n", s.message().c_str());
    return kExitFailure;
  };

  if (what == "alerts" || what == "transfers") {
    std::vector<nlohmann::ordered_json> rows;
    std::vector<std::string> lines;
    if (what == "alerts") {
      std::vector<analytics::Alert> alerts;
      if (Status s = QueryAlerts(h, filter, &alerts); !s.ok()) return fail(s);
      for (const auto& a : alerts) lines.push_back(AlertJson(a));
    } else {
      std::vector<analytics::Transfer> transfers;
      if (Status s = QueryTransfers(h, filter, tenants, &transfers); !s.ok()) return fail(s);
      for (const auto& t : transfers) lines.push_back(TransferJson(t, tenants));
    }
    if (limit != 0 && lines.size() > limit) lines.resize(limit);
    if (format == Format::kJson) {
      for (const auto& l : lines) std::printf("%s\n", l.c_str());
      return kExitOk;
    }
    // Table and CSV from the same JSON objects, so every format shows the same values.
    const std::vector<std::string> cols =
        what == "alerts"
            ? std::vector<std::string>{"id",
                                       "version",
                                       "state",
                                       "kind",
                                       "severity",
                                       "first_seen",
                                       "last_seen",
                                       "inside",
                                       "external",
                                       "external_name",
                                       "direction",
                                       "bytes",
                                       "payload_bytes",
                                       "sampling",
                                       "flows",
                                       "tenant",
                                       "model_match"}
            : std::vector<std::string>{
                  "id",     "kind",          "inside",       "external",   "external_name",
                  "tenant", "first",         "last",         "sent_bytes", "received_bytes",
                  "flows",  "peak_parallel", "mean_rate_bps"};
    Table table(cols);
    for (const auto& l : lines) {
      const auto j = nlohmann::ordered_json::parse(l);
      std::vector<std::string> row;
      for (const auto& c : cols) {
        const auto& v = j.contains(c) ? j[c] : nlohmann::ordered_json();
        if (c == "model_match") {
          row.push_back(v.is_object() ? Cell(v["name"]) + " " + Cell(v["dtype"]) : "");
        } else if (c == "sampling") {  // the estimate's standard error, in percent
          row.push_back(!v.is_object()             ? ""
                        : format == Format::kTable ? "+/-" + Cell(v["payload_error_pct"]) + "%"
                                                   : Cell(v["payload_error_pct"]));
        } else if (format == Format::kTable && v.is_number_unsigned() &&
                   c.find("bytes") != std::string::npos) {
          row.push_back(HumanBytes(v.get<std::uint64_t>(), format));
        } else {
          row.push_back(Cell(v));
        }
      }
      table.Add(std::move(row));
    }
    table.Print(format);
    return kExitOk;
  }

  if (what == "flows") {
    std::vector<FlowRow> flows;
    if (Status s = QueryFlows(h, filter, tenants, &flows); !s.ok()) return fail(s);
    if (limit != 0 && flows.size() > limit) flows.resize(limit);
    if (format == Format::kJson) {
      for (const auto& f : flows) std::printf("%s\n", FlowLineJson(f.line).c_str());
      return kExitOk;
    }
    Table table({"first", "last", "proto", "a", "a_port", "b", "b_port", "vlan", "direction",
                 "tenant", "a_to_b_bytes", "b_to_a_bytes", "a_to_b_packets", "b_to_a_packets"});
    for (const auto& f : flows) {
      const FlowLine& l = f.line;
      table.Add({FormatStreamTime(l.first), FormatStreamTime(l.last), std::to_string(l.key.proto),
                 l.key.a.ToString(), std::to_string(l.key.a_port), l.key.b.ToString(),
                 std::to_string(l.key.b_port), std::to_string(l.key.vlan),
                 capture::DirectionName(f.direction),
                 f.tenant == 0 || f.tenant > tenants.size() ? "" : tenants[f.tenant - 1],
                 HumanBytes(l.a_to_b.l3_bytes, format), HumanBytes(l.b_to_a.l3_bytes, format),
                 std::to_string(l.a_to_b.packets), std::to_string(l.b_to_a.packets)});
    }
    table.Print(format);
    return kExitOk;
  }

  // hosts and top: from the rollups.
  std::vector<RollupRow> rows;
  const store::RollupEntity entity = what == "hosts" ? store::RollupEntity::kInsideHost : by;
  if (Status s = QueryRollups(h, filter, entity, step_ns, tenants, &rows); !s.ok()) return fail(s);
  if (what == "top") {
    rows = TopPerBucket(std::move(rows), limit);
  } else if (limit != 0 && rows.size() > limit) {
    rows.resize(limit);
  }
  auto window = [&](const RollupRow& r) {
    return r.bucket_ns == std::numeric_limits<std::int64_t>::min()
               ? std::string("all")
               : FormatStreamTime(StreamTime{r.bucket_ns});
  };
  auto subject = [](const RollupRow& r) {
    return r.entity == store::RollupEntity::kInsideHost ? r.subject.network.ToString()
                                                        : r.subject.ToString();
  };
  auto tenant = [&](const RollupRow& r) {
    return r.tenant == 0 || r.tenant > tenants.size() ? std::string() : tenants[r.tenant - 1];
  };
  const char* who = entity == store::RollupEntity::kInsideHost ? "host" : "external";
  if (format == Format::kJson) {
    std::size_t rank = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const RollupRow& r = rows[i];
      rank = i > 0 && rows[i - 1].bucket_ns == r.bucket_ns ? rank + 1 : 1;
      nlohmann::ordered_json j;
      j["window_start"] = r.bucket_ns == std::numeric_limits<std::int64_t>::min()
                              ? nlohmann::ordered_json()
                              : nlohmann::ordered_json(FormatStreamTime(StreamTime{r.bucket_ns}));
      if (what == "top") j["rank"] = rank;
      j[who] = subject(r);
      j["tenant"] =
          tenant(r).empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(tenant(r));
      j["in_bytes"] = r.counters.in_bytes;
      j["out_bytes"] = r.counters.out_bytes;
      j["in_payload_bytes"] = r.counters.in_payload_bytes;
      j["out_payload_bytes"] = r.counters.out_payload_bytes;
      j["in_packets"] = r.counters.in_packets;
      j["out_packets"] = r.counters.out_packets;
      j["flows"] = r.counters.flows;
      std::printf("%s\n", j.dump().c_str());
    }
    return kExitOk;
  }
  std::vector<std::string> header = {"window_start"};
  if (what == "top") header.emplace_back("rank");
  for (const char* c :
       {who, "tenant", "in_bytes", "out_bytes", "in_packets", "out_packets", "flows"}) {
    header.emplace_back(c);
  }
  Table table(header);
  std::size_t rank = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const RollupRow& r = rows[i];
    rank = i > 0 && rows[i - 1].bucket_ns == r.bucket_ns ? rank + 1 : 1;
    std::vector<std::string> row = {window(r)};
    if (what == "top") row.push_back(std::to_string(rank));
    for (std::string v :
         {subject(r), tenant(r), HumanBytes(r.counters.in_bytes, format),
          HumanBytes(r.counters.out_bytes, format), std::to_string(r.counters.in_packets),
          std::to_string(r.counters.out_packets), std::to_string(r.counters.flows)}) {
      row.push_back(std::move(v));
    }
    table.Add(std::move(row));
  }
  table.Print(format);
  return kExitOk;
}

}  // namespace weighbridge::app
