// Test driver for the flow-protocol integration tests: decodes flow-protocol datagrams either
// from a capture (capture::FlowProtocolReplaySource) or live (capture::FlowCollector) and prints
// per-direction 5-tuple totals as JSON lines, for the Python tests to compare with exporters'
// and generators' ground truth.
//
//   flowproto_driver replay CAPTURE --input PROTO:PORT:PREFIX[,PREFIX...] [--inside PREFIX]...
//   flowproto_driver collect --input PROTO:PORT:PREFIX[,...] [--listen ADDR] [--idle-ms N]
//                            [--timeout-s N]
// PROTO: sflow, ipfix or netflow. `collect` prints {"kind":"ready","port":P} once bound and
// stops after --idle-ms without a datagram (once one has arrived) or after --timeout-s.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "flowproto_wiring.h"
#include "weighbridge/capture/flow_collector.h"
#include "weighbridge/capture/flow_replay.h"

namespace {

using namespace weighbridge;  // NOLINT(google-build-using-namespace): a test driver

struct Key {
  IpAddress src;
  IpAddress dst;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t proto = 0;
  auto Tie() const { return std::tie(src, dst, sport, dport, proto); }
  bool operator<(const Key& o) const { return Tie() < o.Tie(); }
};

struct Totals {
  std::uint64_t packets = 0;         // as exported / sampled
  std::uint64_t bytes = 0;           // as exported / sampled
  std::uint64_t scaled_packets = 0;  // times the sampling interval / weight
  std::uint64_t scaled_bytes = 0;
  std::uint64_t payload_estimate = 0;  // app::ToFlowUpdate's a_to_b payload (records only)
  std::uint64_t count = 0;             // records or samples
  std::string direction;
};

struct Aggregates {
  std::map<Key, Totals> records;
  std::map<Key, Totals> samples;
  std::map<Key, Totals> traffic;
  capture::SiteClassifier site;

  void AddPackets(std::span<const capture::PacketMeta> ps) {
    for (const capture::PacketMeta& m : ps) {
      Key k{m.src, m.dst, m.src_port, m.dst_port, m.proto};
      Totals& t = (m.sample_weight > 1 ? samples : traffic)[k];
      t.packets += 1;
      t.bytes += m.l3_bytes;
      t.scaled_packets += m.sample_weight;
      t.scaled_bytes += std::uint64_t{m.l3_bytes} * m.sample_weight;
      ++t.count;
    }
  }
  void AddRecords(const std::vector<capture::FlowRecord>& rs) {
    for (const capture::FlowRecord& r : rs) {
      Key k{r.src, r.dst, r.src_port, r.dst_port, r.proto};
      Totals& t = records[k];
      const analytics::FlowUpdate u = app::ToFlowUpdate(r, site);
      t.packets += r.packets;
      t.bytes += r.l3_bytes;
      t.scaled_packets += u.a_to_b.packets;
      t.scaled_bytes += u.a_to_b.l3_bytes;
      t.payload_estimate += u.a_to_b.payload_bytes;
      t.direction = capture::DirectionName(u.direction);
      ++t.count;
    }
  }
};

void Print(const char* kind, const std::map<Key, Totals>& m) {
  for (const auto& [k, t] : m) {
    nlohmann::json j;
    j["kind"] = kind;
    j["src"] = k.src.ToString();
    j["dst"] = k.dst.ToString();
    j["sport"] = k.sport;
    j["dport"] = k.dport;
    j["proto"] = k.proto;
    j["packets"] = t.packets;
    j["bytes"] = t.bytes;
    j["scaled_packets"] = t.scaled_packets;
    j["scaled_bytes"] = t.scaled_bytes;
    j["count"] = t.count;
    if (std::string_view(kind) == "record") {
      j["payload_estimate"] = t.payload_estimate;
      j["direction"] = t.direction;
    }
    std::cout << j.dump() << '\n';
  }
}

nlohmann::json CountersJson(const capture::FlowProtocolCounters& c) {
  nlohmann::json j;
  j["datagrams"] = c.datagrams.Get();
  j["datagrams_dropped"] = c.datagrams_dropped.Get();
  j["flow_records"] = c.flow_records.Get();
  j["sflow_flow_samples"] = c.sflow_flow_samples.Get();
  j["sampled_packets"] = c.sampled_packets.Get();
  j["counter_samples"] = c.counter_samples.Get();
  j["templates_learned"] = c.templates_learned.Get();
  j["templates_withdrawn"] = c.templates_withdrawn.Get();
  j["templates_expired"] = c.templates_expired.Get();
  j["options_records"] = c.options_records.Get();
  j["skipped"] = c.skipped.Get();
  nlohmann::json d = nlohmann::json::object();
  for (std::size_t i = 0; i < capture::kFlowDropReasonCount; ++i) {
    d[std::string(capture::ReasonName(static_cast<capture::FlowDropReason>(i)))] =
        c.dropped[i].Get();
  }
  j["dropped"] = d;
  return j;
}

bool ParseInput(const std::string& text, capture::FlowInputOptions* in) {
  const auto c1 = text.find(':');
  const auto c2 = text.find(':', c1 + 1);
  if (c1 == std::string::npos || c2 == std::string::npos) return false;
  const std::string proto = text.substr(0, c1);
  if (proto == "sflow") {
    in->protocol = capture::FlowProtocol::kSflow;
  } else if (proto == "ipfix") {
    in->protocol = capture::FlowProtocol::kIpfix;
  } else if (proto == "netflow") {
    in->protocol = capture::FlowProtocol::kNetflow;
  } else {
    return false;
  }
  in->port = static_cast<std::uint16_t>(std::stoi(text.substr(c1 + 1, c2 - c1 - 1)));
  std::string rest = text.substr(c2 + 1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto p = Prefix::Parse(rest.substr(0, comma));
    if (!p) return false;
    in->exporters.push_back(*p);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return true;
}

int Usage() {
  std::cerr << "usage: flowproto_driver replay CAPTURE --input PROTO:PORT:PREFIXES [--inside P]\n"
               "       flowproto_driver collect --input PROTO:PORT:PREFIXES [--listen ADDR]"
               " [--idle-ms N] [--timeout-s N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string mode = argv[1];
  std::string capture_path;
  capture::FlowReplayOptions options;
  capture::SiteOptions site_options;
  IpAddress listen = IpAddress::V4(0x7F000001);
  int idle_ms = 1500;
  int timeout_s = 30;
  int i = 2;
  if (mode == "replay") {
    if (argc < 3) return Usage();
    capture_path = argv[2];
    i = 3;
  } else if (mode != "collect") {
    return Usage();
  }
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string v = argv[++i];
    if (a == "--input") {
      capture::FlowInputOptions in;
      if (!ParseInput(v, &in)) return Usage();
      options.inputs.push_back(in);
    } else if (a == "--inside") {
      const auto p = Prefix::Parse(v);
      if (!p) return Usage();
      site_options.inside.push_back(*p);
    } else if (a == "--listen") {
      const auto addr = IpAddress::Parse(v);
      if (!addr) return Usage();
      listen = *addr;
    } else if (a == "--idle-ms") {
      idle_ms = std::stoi(v);
    } else if (a == "--timeout-s") {
      timeout_s = std::stoi(v);
    } else {
      return Usage();
    }
  }
  if (options.inputs.empty()) return Usage();
  Aggregates agg;
  agg.site = capture::SiteClassifier(site_options);
  std::vector<capture::PacketMeta> burst(256);
  nlohmann::json summary;
  summary["kind"] = "counters";
  if (mode == "replay") {
    auto src = capture::FlowProtocolReplaySource::Open(capture_path, options,
                                                       capture::DecodeOptions{}, &agg.site);
    if (!src.ok()) {
      std::cerr << src.error() << '\n';
      return 1;
    }
    for (;;) {
      const capture::PollResult r = (*src)->Poll(burst);
      agg.AddPackets(std::span<const capture::PacketMeta>(burst.data(), r.packets));
      agg.AddRecords((*src)->TakeFlowRecords());
      if (r.state == capture::PollResult::State::kError) {
        std::cerr << r.error << '\n';
        return 1;
      }
      if (r.state == capture::PollResult::State::kEnd) break;
    }
    summary["decoder_frames"] = (*src)->decoder().counters().frames.Get();
    summary["flow_datagrams"] = (*src)->flow_datagrams();
    summary["frames"] = (*src)->Stats().received;
    nlohmann::json inputs = nlohmann::json::array();
    for (std::size_t n = 0; n < (*src)->input_count(); ++n) {
      inputs.push_back(CountersJson((*src)->input(n).counters()));
    }
    summary["inputs"] = inputs;
  } else {
    capture::FlowCollectorOptions co;
    co.input = options.inputs[0];
    co.input.listen_address = listen;
    auto col = capture::FlowCollector::Open(co, capture::DecodeOptions{}, &agg.site);
    if (!col.ok()) {
      std::cerr << col.error() << '\n';
      return 1;
    }
    std::cout << nlohmann::json{{"kind", "ready"}, {"port", (*col)->local_port()}}.dump()
              << std::endl;
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    bool any = false;
    for (;;) {
      const capture::PollResult r = (*col)->Poll(burst);
      agg.AddPackets(std::span<const capture::PacketMeta>(burst.data(), r.packets));
      agg.AddRecords((*col)->TakeFlowRecords());
      const auto now = std::chrono::steady_clock::now();
      if (r.state == capture::PollResult::State::kMore) {
        any = true;
        last = now;
      }
      if (r.state == capture::PollResult::State::kError) {
        std::cerr << r.error << '\n';
        return 1;
      }
      if (any && now - last > std::chrono::milliseconds(idle_ms)) break;
      if (now - start > std::chrono::seconds(timeout_s)) break;
    }
    summary["inputs"] = nlohmann::json::array({CountersJson((*col)->flow_counters())});
    summary["received"] = (*col)->Stats().received;
  }
  Print("record", agg.records);
  Print("sample", agg.samples);
  Print("traffic", agg.traffic);
  std::cout << summary.dump() << std::endl;
  return 0;
}
