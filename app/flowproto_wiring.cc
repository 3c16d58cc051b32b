#include "flowproto_wiring.h"

#include <algorithm>

#include "weighbridge/core/hash.h"

namespace weighbridge::app {
namespace {

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;

capture::FlowInputOptions InputFrom(const CaptureSourceConfig& src) {
  capture::FlowInputOptions in;
  in.protocol = src.type == CaptureType::kSflow   ? capture::FlowProtocol::kSflow
                : src.type == CaptureType::kIpfix ? capture::FlowProtocol::kIpfix
                                                  : capture::FlowProtocol::kNetflow;
  in.listen_address = src.flow.listen.address;
  in.port = src.flow.listen.port;
  in.exporters = src.flow.exporters;
  return in;
}

bool IsFlowType(CaptureType t) {
  return t == CaptureType::kSflow || t == CaptureType::kIpfix || t == CaptureType::kNetflow;
}

analytics::FlowEndReason ReasonOf(std::uint8_t ipfix_end_reason) {
  switch (ipfix_end_reason) {
    case 2:
      return analytics::FlowEndReason::kActive;
    case 3:
      return analytics::FlowEndReason::kClosed;
    case 4:
      return analytics::FlowEndReason::kFlushed;
    case 5:
      return analytics::FlowEndReason::kEvicted;
    default:
      return analytics::FlowEndReason::kIdle;
  }
}

}  // namespace

std::uint64_t EstimatePayloadBytes(const capture::FlowRecord& r) {
  // As for captured packets (PacketMeta::payload_bytes): only TCP and UDP have a payload.
  if (r.proto != kProtoTcp && r.proto != kProtoUdp) return 0;
  const std::uint64_t ip_header = r.src.IsV4() ? 20 : 40;
  const std::uint64_t l4_header = r.proto == kProtoTcp ? 20 : 8;
  const std::uint64_t headers = r.packets * (ip_header + l4_header);
  return r.l3_bytes > headers ? r.l3_bytes - headers : 0;
}

analytics::FlowUpdate ToFlowUpdate(const capture::FlowRecord& r,
                                   const capture::SiteClassifier& site) {
  analytics::FlowUpdate u;
  u.key.a = r.src;
  u.key.b = r.dst;
  u.key.a_port = r.src_port;
  u.key.b_port = r.dst_port;
  u.key.vlan = r.vlan;
  u.key.proto = r.proto;
  const std::uint64_t w = r.sampling_interval == 0 ? 1 : r.sampling_interval;
  u.a_to_b.packets = r.packets * w;
  u.a_to_b.l3_bytes = r.l3_bytes * w;
  const std::uint64_t payload = EstimatePayloadBytes(r);
  u.a_to_b.payload_bytes = payload * w;
  if (w > 1 && r.packets > 0) {
    // The record's packets were each seen with probability 1/N; their sizes are not exported, so
    // each is taken at the record's mean: variance N (N - 1) sum(b^2) with sum(b^2) =
    // payload^2 / packets, the least it can be for that total (SampleStats).
    const double pb = static_cast<double>(payload);
    u.a_to_b.sampling = {r.packets, static_cast<double>(w) * static_cast<double>(w - 1) * pb * pb /
                                        static_cast<double>(r.packets)};
  }
  u.first = std::min(r.start, r.end);
  u.last = std::max(r.start, r.end);
  u.tcp_flags = r.proto == kProtoTcp ? r.tcp_flags : 0;
  site.Classify(r.src, r.dst, &u.direction, &u.tenant);
  u.reason = ReasonOf(r.end_reason);
  u.first_update = true;
  u.at = u.last;
  std::uint64_t h = HashAddress(r.src) ^ Mix64(HashAddress(r.dst) + 1);
  h ^= Mix64((std::uint64_t{r.src_port} << 32) | (std::uint64_t{r.dst_port} << 16) |
             (std::uint64_t{r.proto} << 8));
  h ^= Mix64(static_cast<std::uint64_t>(u.first.ns) ^ (std::uint64_t{r.vlan} << 48));
  h ^= Mix64(HashAddress(r.exporter) + r.observation_domain);
  u.flow_id = Mix64(h);
  return u;
}

bool HasFlowProtocolSources(const Config& config) {
  return std::any_of(config.capture.begin(), config.capture.end(),
                     [](const CaptureSourceConfig& s) { return IsFlowType(s.type); });
}

capture::FlowReplayOptions FlowReplayOptionsFromConfig(const Config& config) {
  capture::FlowReplayOptions o;
  for (const CaptureSourceConfig& s : config.capture) {
    if (IsFlowType(s.type)) o.inputs.push_back(InputFrom(s));
  }
  return o;
}

Result<std::vector<std::unique_ptr<flowexport::IpfixExporter>>> OpenIpfixExporters(
    const Config& config) {
  std::vector<std::unique_ptr<flowexport::IpfixExporter>> out;
  for (const IpfixExportConfig& e : config.flow_export.ipfix) {
    flowexport::IpfixExportOptions o;
    o.collector = e.collector.address;
    o.port = e.collector.port;
    o.observation_domain = static_cast<std::uint32_t>(e.observation_domain);
    o.max_message_bytes = static_cast<std::size_t>(e.max_message_bytes);
    o.template_refresh_messages = static_cast<std::uint32_t>(e.template_refresh);
    auto opened = flowexport::IpfixExporter::Open(o);
    if (!opened.ok()) return opened.status();
    out.push_back(std::move(*opened));
  }
  return out;
}

std::vector<capture::FlowCollectorOptions> FlowCollectorOptionsFromConfig(const Config& config) {
  std::vector<capture::FlowCollectorOptions> out;
  for (const CaptureSourceConfig& s : config.capture) {
    if (!IsFlowType(s.type)) continue;
    capture::FlowCollectorOptions c;
    c.input = InputFrom(s);
    out.push_back(c);
  }
  return out;
}

}  // namespace weighbridge::app
