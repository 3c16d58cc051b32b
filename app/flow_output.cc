#include "flow_output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace weighbridge::app {

std::string FormatStreamTime(StreamTime t) {
  std::int64_t secs = t.ns / kNanosPerSecond;
  std::int64_t rem = t.ns % kNanosPerSecond;
  if (rem < 0) {
    rem += kNanosPerSecond;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];  // room for any year tm_year can hold
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(rem / 1000));
  return buf;
}

void FlowCollector::OnFlowUpdate(const analytics::FlowUpdate& u) {
  auto [it, inserted] = flows_.try_emplace(u.flow_id);
  FlowLine& f = it->second;
  if (inserted) {
    f.key = u.key;
    f.flow_id = u.flow_id;
    f.first = u.first;
  }
  f.last = std::max(f.last, u.last);
  f.a_to_b += u.a_to_b;
  f.b_to_a += u.b_to_a;
}

std::vector<FlowLine> FlowCollector::TakeSorted() {
  std::vector<FlowLine> out;
  out.reserve(flows_.size());
  for (auto& [id, line] : flows_) out.push_back(line);
  flows_.clear();
  std::sort(out.begin(), out.end(), [](const FlowLine& x, const FlowLine& y) {
    return x.first != y.first ? x.first < y.first : x.flow_id < y.flow_id;
  });
  return out;
}

namespace {

// Optional names are null in JSON, not "".
nlohmann::ordered_json NullIfEmpty(const std::string& s) {
  return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s);
}

nlohmann::ordered_json MatchJson(const analytics::ModelMatch& m) {
  // A parameter count is a whole number; the catalog keeps it as a double ("8.03B").
  return {{"name", m.name},
          {"params", static_cast<std::uint64_t>(std::llround(m.params))},
          {"dtype", m.dtype},
          {"bytes", m.bytes},
          {"error_pct", m.error_pct}};
}

// The sampling error of a payload estimate: null when every packet was counted.
nlohmann::ordered_json SamplingJson(const analytics::SampleStats& s, std::uint64_t payload) {
  if (!s.sampled()) return nullptr;
  const double sd = s.PayloadStddev();
  const double p = static_cast<double>(payload);
  nlohmann::ordered_json j;
  j["samples"] = s.samples;
  j["payload_stddev_bytes"] = static_cast<std::uint64_t>(std::llround(sd));
  j["payload_error_pct"] = payload == 0 ? 0.0 : std::round(sd / p * 1e6) / 1e4;
  j["payload_low_bytes"] =
      static_cast<std::uint64_t>(std::llround(std::max(0.0, p - kConfidence95Sigmas * sd)));
  j["payload_high_bytes"] = static_cast<std::uint64_t>(std::llround(p + kConfidence95Sigmas * sd));
  return j;
}

}  // namespace

std::string FlowLineJson(const FlowLine& f) {
  nlohmann::ordered_json j;
  j["proto"] = f.key.proto;
  j["a"] = f.key.a.ToString();
  j["a_port"] = f.key.a_port;
  j["b"] = f.key.b.ToString();
  j["b_port"] = f.key.b_port;
  j["vlan"] = f.key.vlan;
  j["a_to_b_bytes"] = f.a_to_b.l3_bytes;
  j["b_to_a_bytes"] = f.b_to_a.l3_bytes;
  j["a_to_b_packets"] = f.a_to_b.packets;
  j["b_to_a_packets"] = f.b_to_a.packets;
  j["a_to_b_payload_bytes"] = f.a_to_b.payload_bytes;
  j["b_to_a_payload_bytes"] = f.b_to_a.payload_bytes;
  j["first"] = FormatStreamTime(f.first);
  j["last"] = FormatStreamTime(f.last);
  return j.dump();
}

std::string TransferJson(const analytics::Transfer& t,
                         const std::vector<std::string>& tenant_names) {
  nlohmann::ordered_json j;
  j["id"] = analytics::AlertIdString(t.id);  // ids are printed alike everywhere
  j["kind"] = capture::DirectionName(t.kind);
  j["inside"] = t.inside.ToString();
  j["external"] = t.external.ToString();
  j["external_name"] = NullIfEmpty(t.external_name);
  j["tenant"] = t.tenant == 0 || t.tenant > tenant_names.size()
                    ? nlohmann::ordered_json()
                    : nlohmann::ordered_json(tenant_names[t.tenant - 1]);
  j["first"] = FormatStreamTime(t.first);
  j["last"] = FormatStreamTime(t.last);
  j["sent_bytes"] = t.sent.l3_bytes;
  j["received_bytes"] = t.received.l3_bytes;
  j["sent_payload_bytes"] = t.sent.payload_bytes;
  j["received_payload_bytes"] = t.received.payload_bytes;
  j["sent_packets"] = t.sent.packets;
  j["received_packets"] = t.received.packets;
  j["flows"] = t.flows;
  j["peak_parallel"] = t.peak_parallel;
  j["mean_rate_bps"] = static_cast<std::uint64_t>(t.MeanRateBps());
  j["peak_rate_bps"] = static_cast<std::uint64_t>(t.peak_rate_bps);
  j["asymmetry"] = t.Asymmetry();
  if (t.sent.sampling.sampled() || t.received.sampling.sampled()) {
    j["sent_sampling"] = SamplingJson(t.sent.sampling, t.sent.payload_bytes);
    j["received_sampling"] = SamplingJson(t.received.sampling, t.received.payload_bytes);
  }
  return j.dump();
}

std::string HostOrPrefix(const Prefix& p) {
  return p.length == (p.IsV4() ? 32 : 128) ? p.network.ToString() : p.ToString();
}

std::string AlertJson(const analytics::Alert& a) {
  nlohmann::ordered_json j;
  j["id"] = analytics::AlertIdString(a.id);
  j["version"] = a.version;
  j["state"] = std::string(analytics::AlertStateName(a.state));
  j["kind"] = std::string(analytics::AlertKindName(a.kind));
  j["severity"] = std::string(analytics::AlertSeverityName(a.severity));
  j["first_seen"] = FormatStreamTime(a.first_seen);
  j["last_seen"] = FormatStreamTime(a.last_seen);
  j["inside"] =
      a.has_inside ? nlohmann::ordered_json(HostOrPrefix(a.inside)) : nlohmann::ordered_json();
  j["external"] = a.external.ToString();
  j["external_name"] = NullIfEmpty(a.external_name);
  j["direction"] = capture::DirectionName(a.direction);
  j["bytes"] = a.bytes;
  j["payload_bytes"] = a.payload_bytes;
  j["sampling"] = SamplingJson(a.sampling, a.payload_bytes);
  j["flows"] = a.flows;
  j["tenant"] = NullIfEmpty(a.tenant);
  if (a.model_match) {
    j["model_match"] = MatchJson(*a.model_match);
  } else {
    j["model_match"] = nullptr;
  }
  if (!a.model_alternatives.empty()) {
    nlohmann::ordered_json alts = nlohmann::ordered_json::array();
    for (const analytics::ModelMatch& m : a.model_alternatives) alts.push_back(MatchJson(m));
    j["model_alternatives"] = alts;
  }
  j["threshold_bytes"] = a.threshold_bytes;
  if (a.window_ns != 0) j["window_seconds"] = a.window_ns / kNanosPerSecond;
  if (a.projected) {
    j["projected"] = true;
    j["projected_crossing"] = FormatStreamTime(a.projected_crossing);
    j["rate_bps"] = a.rate_bps;
  }
  if (a.transfer_id != 0) j["transfer_id"] = analytics::AlertIdString(a.transfer_id);
  if (!a.linked_ids.empty()) {
    nlohmann::ordered_json ids = nlohmann::ordered_json::array();
    for (std::uint64_t id : a.linked_ids) ids.push_back(analytics::AlertIdString(id));
    j["linked_ids"] = ids;
  }
  return j.dump();
}

void ReplaySummary::AddDecoder(const capture::DecodeCounters& c) {
  frames += c.frames.Get();
  ip_packets += c.ip_packets.Get();
  ipv4_packets += c.ipv4_packets.Get();
  ipv6_packets += c.ipv6_packets.Get();
  l3_bytes += c.l3_bytes.Get();
  wire_bytes += c.wire_bytes.Get();
  fragments_unmatched += c.fragments_unmatched.Get();
  for (std::size_t i = 0; i < capture::kDecodeResultCount; ++i) {
    decode_errors[i] += c.by_reason[i].Get();
  }
}

std::string SummaryJson(const ReplaySummary& s) {
  nlohmann::ordered_json j;
  j["frames"] = s.frames;
  j["ip_packets"] = s.ip_packets;
  j["ipv4_packets"] = s.ipv4_packets;
  j["ipv6_packets"] = s.ipv6_packets;
  j["bytes"] = s.l3_bytes;
  j["wire_bytes"] = s.wire_bytes;
  nlohmann::ordered_json dir;
  for (std::size_t i = 0; i < 4; ++i) {
    dir[capture::DirectionName(static_cast<capture::Direction>(i))] = {
        {"packets", s.direction_packets[i]}, {"bytes", s.direction_bytes[i]}};
  }
  j["by_direction"] = dir;
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (std::size_t i = 1; i < capture::kDecodeResultCount; ++i) {
    errors[std::string(capture::ReasonName(static_cast<capture::DecodeResult>(i)))] =
        s.decode_errors[i];
  }
  j["decode_errors"] = errors;
  j["fragments_unmatched"] = s.fragments_unmatched;
  j["flows"] = s.flows;
  j["flow_evictions"] = s.flow_evictions;
  j["transfers"] = s.transfers ? nlohmann::ordered_json(*s.transfers) : nlohmann::ordered_json();
  j["alerts"] = s.alerts ? nlohmann::ordered_json(*s.alerts) : nlohmann::ordered_json();
  j["input_error"] =
      s.input_error ? nlohmann::ordered_json(*s.input_error) : nlohmann::ordered_json();
  if (s.flow_protocols) {
    const ReplaySummary::FlowProtocols& f = *s.flow_protocols;
    nlohmann::ordered_json fp;
    fp["datagrams"] = f.datagrams;
    fp["datagrams_dropped"] = f.datagrams_dropped;
    fp["flow_records"] = f.flow_records;
    fp["sampled_packets"] = f.sampled_packets;
    fp["counter_samples"] = f.counter_samples;
    nlohmann::ordered_json dropped = nlohmann::ordered_json::object();
    for (const auto& [reason, n] : f.dropped) dropped[reason] = n;
    fp["dropped"] = dropped;
    j["flow_protocols"] = fp;
  }
  return j.dump(2);
}

}  // namespace weighbridge::app
