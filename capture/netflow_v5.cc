// NetFlow v5 (Cisco's fixed format). Header: version, count, sys_uptime (ms), unix_secs,
// unix_nsecs, flow_sequence, engine_type, engine_id, sampling_interval (2 bits mode, 14 bits
// interval). Record: 48 bytes.
#include "netflow_v5.h"

#include "weighbridge/core/bytes.h"

namespace weighbridge::capture::internal {
namespace {
constexpr std::size_t kHeaderBytes = 24;
constexpr std::size_t kRecordBytes = 48;
constexpr std::uint16_t kMaxRecords = 30;  // what fits in one v5 datagram by the spec
}  // namespace

void ParseNetflowV5(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
                    StreamTime received, std::vector<FlowRecord>* out,
                    FlowProtocolCounters* counters) {
  if (len < kHeaderBytes) {
    counters->datagrams_dropped.Add(1);
    counters->Drop(FlowDropReason::kTruncatedDatagram);
    return;
  }
  const std::uint16_t count = LoadBe16(data + 2);
  if (count > kMaxRecords || len < kHeaderBytes + std::size_t{count} * kRecordBytes) {
    counters->datagrams_dropped.Add(1);
    counters->Drop(FlowDropReason::kBadLength);
    return;
  }
  const std::uint32_t uptime_ms = LoadBe32(data + 4);
  const std::int64_t export_ns =
      std::int64_t{LoadBe32(data + 8)} * kNanosPerSecond + (LoadBe32(data + 12) % kNanosPerSecond);
  const std::uint32_t domain = LoadBe16(data + 20);  // engine_type << 8 | engine_id
  const std::uint16_t interval = LoadBe16(data + 22) & 0x3fff;
  for (std::uint16_t i = 0; i < count; ++i) {
    const std::uint8_t* r = data + kHeaderBytes + std::size_t{i} * kRecordBytes;
    FlowRecord f;
    f.format = FlowRecordFormat::kNetflowV5;
    f.exporter = exporter;
    f.observation_domain = domain;
    f.received = received;
    f.src = IpAddress::V4Bytes(r);
    f.dst = IpAddress::V4Bytes(r + 4);
    f.packets = LoadBe32(r + 16);
    f.l3_bytes = LoadBe32(r + 20);
    f.start = UptimeToStreamTime(export_ns, uptime_ms, LoadBe32(r + 24));
    f.end = UptimeToStreamTime(export_ns, uptime_ms, LoadBe32(r + 28));
    f.src_port = LoadBe16(r + 32);
    f.dst_port = LoadBe16(r + 34);
    f.tcp_flags = r[37];
    f.proto = r[38];
    if (f.proto == 1 || f.proto == 58) {
      // v5 carries ICMP type << 8 | code in the destination port; weighbridge's flow key has
      // no ports for ICMP (ARCHITECTURE.md "Flows out").
      f.src_port = 0;
      f.dst_port = 0;
    }
    f.sampling_interval = interval == 0 ? 1 : interval;
    out->push_back(f);
    counters->flow_records.Add(1);
  }
}

}  // namespace weighbridge::capture::internal
