// FlowProtocolReplaySource tests: a capture written here with libpcap's own writer, holding
// ordinary frames and flow-protocol datagrams built byte by byte in this file (IPFIX per RFC 7011,
// sFlow per sflow_version_5.txt). Expected values are this file's own arithmetic.
#include "weighbridge/capture/flow_replay.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace weighbridge::capture {
namespace {

using Bytes = std::vector<std::uint8_t>;

void Put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void Put32(Bytes& b, std::uint32_t v) {
  Put16(b, static_cast<std::uint16_t>(v >> 16));
  Put16(b, static_cast<std::uint16_t>(v));
}

Bytes Ipv4(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, const Bytes& l4) {
  Bytes ip;
  ip.push_back(0x45);
  ip.push_back(0);
  Put16(ip, static_cast<std::uint16_t>(20 + l4.size()));
  Put32(ip, 0);
  ip.push_back(64);
  ip.push_back(proto);
  Put16(ip, 0);
  Put32(ip, src);
  Put32(ip, dst);
  ip.insert(ip.end(), l4.begin(), l4.end());
  return ip;
}

Bytes Udp(std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  Bytes u;
  Put16(u, sport);
  Put16(u, dport);
  Put16(u, static_cast<std::uint16_t>(8 + payload.size()));
  Put16(u, 0);
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}

Bytes Ethernet(const Bytes& l3, int vlan = -1) {
  Bytes f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  if (vlan >= 0) {
    Put16(f, 0x8100);
    Put16(f, static_cast<std::uint16_t>(vlan));
  }
  Put16(f, 0x0800);
  f.insert(f.end(), l3.begin(), l3.end());
  return f;
}

Bytes TcpHeader(std::uint16_t sport, std::uint16_t dport, std::size_t payload) {
  Bytes t;
  Put16(t, sport);
  Put16(t, dport);
  Put32(t, 1000);
  Put32(t, 0);
  t.push_back(0x50);
  t.push_back(0x18);
  Put16(t, 65535);
  Put32(t, 0);
  t.resize(t.size() + payload, 0);
  return t;
}

// IPFIX message: template 256 {src4, dst4, sport, dport, proto, octets(4), packets(4)} and one
// data record.
Bytes IpfixMessage(std::uint32_t octets) {
  Bytes sets;
  Put16(sets, 2);
  Put16(sets, 4 + 4 + 7 * 4);
  Put16(sets, 256);
  Put16(sets, 7);
  for (auto [id, len] : {std::pair{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 4}, {2, 4}}) {
    Put16(sets, static_cast<std::uint16_t>(id));
    Put16(sets, static_cast<std::uint16_t>(len));
  }
  Put16(sets, 256);
  Put16(sets, 4 + 21);
  Put32(sets, 0x0A1E0001);
  Put32(sets, 0xCB007105);
  Put16(sets, 40000);
  Put16(sets, 443);
  sets.push_back(6);
  Put32(sets, octets);
  Put32(sets, 10);
  Bytes m;
  Put16(m, 10);
  Put16(m, static_cast<std::uint16_t>(16 + sets.size()));
  Put32(m, 1'767'225'600);
  Put32(m, 1);
  Put32(m, 0);
  m.insert(m.end(), sets.begin(), sets.end());
  return m;
}

// sFlow datagram: one flow sample (rate 50) with a raw IPv4 header (header_protocol 11) of a
// 1000-byte UDP packet 203.0.113.5:53 -> 10.30.0.2:5353.
Bytes SflowDatagram() {
  Bytes sampled = Ipv4(0xCB007105, 0x0A1E0002, 17, Udp(53, 5353, Bytes(972, 0)));
  sampled.resize(64);  // the agent keeps the first 64 bytes
  Bytes rec;
  Put32(rec, 11);
  Put32(rec, 1000);
  Put32(rec, 0);
  Put32(rec, 64);
  rec.insert(rec.end(), sampled.begin(), sampled.end());
  Bytes sample;
  for (std::uint32_t v : {1u, 3u, 50u, 5000u, 0u, 3u, 4u, 1u}) Put32(sample, v);
  Put32(sample, 1);  // record format: raw packet header
  Put32(sample, static_cast<std::uint32_t>(rec.size()));
  sample.insert(sample.end(), rec.begin(), rec.end());
  Bytes d;
  for (std::uint32_t v : {5u, 1u, 0xC0000214u, 0u, 1u, 1000u, 1u}) Put32(d, v);
  Put32(d, 1);  // sample format: flow sample
  Put32(d, static_cast<std::uint32_t>(sample.size()));
  d.insert(d.end(), sample.begin(), sample.end());
  return d;
}

struct Rec {
  std::int64_t ts_ns;
  Bytes frame;
  std::uint32_t caplen = 0;  // 0: whole frame
};

std::string WritePcap(const std::vector<Rec>& recs) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("flow_replay_test_" + std::to_string(::getpid()) + ".pcap"))
                               .string();
  pcap_t* dead =
      pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  for (const Rec& r : recs) {
    pcap_pkthdr h{};
    h.ts.tv_sec = r.ts_ns / 1'000'000'000;
    h.ts.tv_usec = r.ts_ns % 1'000'000'000;
    h.len = static_cast<bpf_u_int32>(r.frame.size());
    h.caplen = r.caplen == 0 ? h.len : r.caplen;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, r.frame.data());  // NOLINT: libpcap's API
  }
  pcap_dump_close(d);
  pcap_close(dead);
  return path;
}

constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;

class FlowReplayTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    const std::uint32_t kAllowedIpfix = 0xC000020A;  // 192.0.2.10
    const std::uint32_t kAllowedSflow = 0xC0000214;  // 192.0.2.20
    const std::uint32_t kCollector = 0x7F000001;
    const Bytes ipfix = Udp(50000, 4739, IpfixMessage(4242));
    path_ = WritePcap({
        {kT0, Ethernet(Ipv4(0x0A1E0001, 0xCB007105, 6, TcpHeader(40000, 443, 100)))},
        {kT0 + 1000, Ethernet(Ipv4(kAllowedIpfix, kCollector, 17, ipfix))},
        {kT0 + 2000, Ethernet(Ipv4(0xCB007109, kCollector, 17, ipfix))},  // not allowed
        {kT0 + 3000,
         Ethernet(Ipv4(kAllowedSflow, kCollector, 17, Udp(50001, 6343, SflowDatagram())))},
        {kT0 + 4000, Ethernet(Ipv4(kAllowedIpfix, kCollector, 17, ipfix)), 60},  // snaplen-cut
        {kT0 + 5000, Ethernet(Ipv4(kAllowedIpfix, kCollector, 17, Udp(50000, 4740, Bytes(30, 0))))},
        {kT0 + 6000,
         Ethernet(Ipv4(kAllowedIpfix, kCollector, 17, Udp(50000, 4739, IpfixMessage(7)))), 46},
        {kT0 + 7000, Ethernet(Ipv4(kAllowedIpfix, kCollector, 17, ipfix), 100)},  // VLAN 100
    });
    FlowInputOptions ipfix_in;
    ipfix_in.protocol = FlowProtocol::kIpfix;
    ipfix_in.port = 4739;
    ipfix_in.exporters = {*Prefix::Parse("192.0.2.0/28")};
    FlowInputOptions sflow_in;
    sflow_in.protocol = FlowProtocol::kSflow;
    sflow_in.port = 6343;
    sflow_in.listen_address = IpAddress::V4(kCollector);
    sflow_in.exporters = {*Prefix::Parse("192.0.2.20")};
    options_.inputs = {ipfix_in, sflow_in};
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  FlowReplayOptions options_;
};

TEST_P(FlowReplayTest, FlowDatagramsAreDecodedNotAccounted) {
  auto src = FlowProtocolReplaySource::Open(path_, options_, DecodeOptions{}, nullptr);
  ASSERT_TRUE(src.ok()) << src.error();
  std::vector<PacketMeta> burst(GetParam());
  std::vector<PacketMeta> got;
  std::vector<FlowRecord> records;
  for (int polls = 0; polls < 100; ++polls) {
    const PollResult r = (*src)->Poll(burst);
    got.insert(got.end(), burst.begin(), burst.begin() + static_cast<std::ptrdiff_t>(r.packets));
    for (const FlowRecord& f : (*src)->TakeFlowRecords()) records.push_back(f);
    ASSERT_NE(r.state, PollResult::State::kError) << r.error;
    if (r.state == PollResult::State::kEnd) break;
  }
  // Ordinary: the TCP frame and the UDP datagram to an unconfigured port; plus one sFlow sample.
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].proto, 6);
  EXPECT_EQ(got[0].sample_weight, 1u);
  EXPECT_EQ(got[1].sample_weight, 50u);
  EXPECT_EQ(got[1].l3_bytes, 1000u);
  EXPECT_EQ(got[1].src_port, 53);
  EXPECT_EQ(got[1].ts.ns, kT0 + 3000);
  EXPECT_EQ(got[2].dst_port, 4740);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].received.ns, kT0 + 7000);
  EXPECT_EQ(records[0].l3_bytes, 4242u);
  EXPECT_EQ(records[0].packets, 10u);
  EXPECT_EQ(records[0].received.ns, kT0 + 1000);
  EXPECT_EQ(records[0].exporter, IpAddress::V4(0xC000020A));
  EXPECT_EQ((*src)->decoder().counters().frames.Get(), 2u);
  EXPECT_EQ((*src)->flow_datagrams(), 6u);
  EXPECT_EQ((*src)->Stats().received, 8u);
  const FlowProtocolCounters& ic = (*src)->input(0).counters();
  EXPECT_EQ(ic.datagrams.Get(), 5u);
  EXPECT_EQ(ic.Dropped(FlowDropReason::kExporterNotAllowed), 1u);
  EXPECT_EQ(ic.Dropped(FlowDropReason::kTruncatedDatagram), 2u);
  const FlowProtocolCounters& sc = (*src)->input(1).counters();
  EXPECT_EQ(sc.sampled_packets.Get(), 1u);
}

INSTANTIATE_TEST_SUITE_P(BurstSizes, FlowReplayTest, ::testing::Values(1, 2, 256));

TEST(FlowReplayOpen, MissingFileIsAnError) {
  auto src = FlowProtocolReplaySource::Open("/nonexistent/x.pcap", {}, DecodeOptions{}, nullptr);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.error().find("/nonexistent/x.pcap"), std::string::npos);
}

// The live collector on loopback: a datagram sent with a plain POSIX socket comes back as flow
// records; one from a source outside `exporters` is counted and dropped.
TEST(FlowCollectorTest, ReceivesAndDecodesOnLoopback) {
  FlowCollectorOptions o;
  o.input.protocol = FlowProtocol::kIpfix;
  o.input.listen_address = IpAddress::V4(0x7F000001);
  o.input.port = 0;  // any free port
  o.input.exporters = {*Prefix::Parse("127.0.0.1")};
  auto col = FlowCollector::Open(o, DecodeOptions{}, nullptr);
  ASSERT_TRUE(col.ok()) << col.error();
  ASSERT_NE((*col)->local_port(), 0);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*col)->local_port());
  to.sin_addr.s_addr = htonl(0x7F000001);
  const Bytes m = IpfixMessage(31337);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::sendto(fd, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                       sizeof(to)),  // NOLINT: the sockets API
              static_cast<ssize_t>(m.size()));
  }
  ::close(fd);
  std::vector<PacketMeta> burst(16);
  std::vector<FlowRecord> records;
  for (int polls = 0; polls < 200 && records.size() < 3; ++polls) {
    const PollResult r = (*col)->Poll(burst);
    ASSERT_NE(r.state, PollResult::State::kError) << r.error;
    EXPECT_EQ(r.packets, 0u);
    for (const FlowRecord& f : (*col)->TakeFlowRecords()) records.push_back(f);
  }
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].l3_bytes, 31337u);
  EXPECT_EQ(records[0].exporter, IpAddress::V4(0x7F000001));
  EXPECT_EQ((*col)->flow_counters().datagrams.Get(), 3u);
  EXPECT_EQ((*col)->Stats().received, 3u);
  (*col)->Stop();
  EXPECT_EQ((*col)->Poll(burst).state, PollResult::State::kEnd);
}

TEST(FlowCollectorTest, BindFailureNamesTheAddress) {
  FlowCollectorOptions o;
  o.input.listen_address = IpAddress::V4(0xC0000201);  // not an address of this machine
  o.input.port = 4739;
  auto col = FlowCollector::Open(o, DecodeOptions{}, nullptr);
  ASSERT_FALSE(col.ok());
  EXPECT_NE(col.error().find("192.0.2.1"), std::string::npos) << col.error();
}

}  // namespace
}  // namespace weighbridge::capture
