// sFlow v5 parser tests. Datagrams are built here field by field from the sFlow v5 spec
// (sflow.org/sflow_version_5.txt), independently of the parser; the sampled packets inside them
// are built byte by byte too, so every expected value is this file's own arithmetic.
#include "weighbridge/capture/sflow.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace weighbridge::capture {
namespace {

// XDR writer: big-endian 32-bit words, opaque data padded to 4 bytes.
struct Xdr {
  std::vector<std::uint8_t> b;
  Xdr& U32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
    return *this;
  }
  Xdr& U64(std::uint64_t v) {
    U32(static_cast<std::uint32_t>(v >> 32));
    return U32(static_cast<std::uint32_t>(v));
  }
  Xdr& Bytes(const std::vector<std::uint8_t>& d) {
    b.insert(b.end(), d.begin(), d.end());
    while (b.size() % 4 != 0) b.push_back(0);
    return *this;
  }
  // A length-prefixed sub-structure (sample or record): format, length, body.
  Xdr& Tagged(std::uint32_t format, const Xdr& body) {
    U32(format).U32(static_cast<std::uint32_t>(body.b.size()));
    return Bytes(body.b);
  }
};

// An Ethernet + IPv4 + TCP header as a switch would sample it (first `keep` bytes of a frame
// whose IP total length is `ip_total`).
std::vector<std::uint8_t> EthIpv4Tcp(std::uint16_t ip_total, std::uint16_t sport,
                                     std::uint16_t dport) {
  std::vector<std::uint8_t> f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00};
  std::vector<std::uint8_t> ip(40, 0);
  ip[0] = 0x45;
  ip[2] = static_cast<std::uint8_t>(ip_total >> 8);
  ip[3] = static_cast<std::uint8_t>(ip_total);
  ip[8] = 64;
  ip[9] = 6;
  const std::uint8_t src[4] = {198, 51, 100, 7};
  const std::uint8_t dst[4] = {10, 30, 0, 9};
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = src[i];
    ip[16 + i] = dst[i];
  }
  ip[20] = static_cast<std::uint8_t>(sport >> 8);
  ip[21] = static_cast<std::uint8_t>(sport);
  ip[22] = static_cast<std::uint8_t>(dport >> 8);
  ip[23] = static_cast<std::uint8_t>(dport);
  ip[32] = 0x50;  // data offset 5 words
  ip[33] = 0x10;  // ACK
  f.insert(f.end(), ip.begin(), ip.end());
  f.resize(f.size() + 26, 0);  // some payload bytes, as a 128-byte sample would carry
  return f;
}

// Raw IPv6 + UDP header (header_protocol 12).
std::vector<std::uint8_t> Ipv6Udp(std::uint16_t payload_len) {
  std::vector<std::uint8_t> ip(48, 0);
  ip[0] = 0x60;
  ip[4] = static_cast<std::uint8_t>(payload_len >> 8);
  ip[5] = static_cast<std::uint8_t>(payload_len);
  ip[6] = 17;
  ip[7] = 64;
  ip[8] = 0x20;
  ip[9] = 0x01;
  ip[10] = 0x0d;
  ip[11] = 0xb8;
  ip[23] = 1;  // 2001:db8::1
  ip[24] = 0x20;
  ip[25] = 0x01;
  ip[26] = 0x0d;
  ip[27] = 0xb8;
  ip[28] = 0x01;
  ip[39] = 2;  // 2001:db8:100::2
  ip[40] = 0x13;
  ip[41] = 0x88;  // 5000
  ip[42] = 0x00;
  ip[43] = 53;
  ip[44] = static_cast<std::uint8_t>(payload_len >> 8);
  ip[45] = static_cast<std::uint8_t>(payload_len);
  return ip;
}

Xdr RawHeader(std::uint32_t protocol, std::uint32_t frame_length,
              const std::vector<std::uint8_t>& header) {
  Xdr r;
  r.U32(protocol)
      .U32(frame_length)
      .U32(4 /* stripped FCS */)
      .U32(static_cast<std::uint32_t>(header.size()));
  r.Bytes(header);
  return r;
}

Xdr FlowSample(std::uint32_t rate, const std::vector<Xdr>& records) {
  Xdr s;
  s.U32(7 /* seq */).U32(3 /* ifIndex 3 */).U32(rate).U32(rate * 10 /* pool */).U32(0);
  s.U32(3).U32(4).U32(static_cast<std::uint32_t>(records.size()));
  for (const Xdr& r : records) s.Tagged(1, r);
  return s;
}

Xdr ExpandedFlowSample(std::uint32_t rate, const std::vector<Xdr>& records) {
  Xdr s;
  s.U32(8).U32(0).U32(5).U32(rate).U32(rate * 3).U32(0);
  s.U32(0).U32(5).U32(0).U32(6);  // input, output: format + value
  s.U32(static_cast<std::uint32_t>(records.size()));
  for (const Xdr& r : records) s.Tagged(1, r);
  return s;
}

Xdr Datagram(const std::vector<std::pair<std::uint32_t, Xdr>>& samples) {
  Xdr d;
  d.U32(5).U32(1).Bytes({192, 0, 2, 1}).U32(0 /* sub agent */).U32(99 /* seq */).U32(123456);
  d.U32(static_cast<std::uint32_t>(samples.size()));
  for (const auto& [format, body] : samples) d.Tagged(format, body);
  return d;
}

class SflowTest : public ::testing::Test {
 protected:
  void Parse(const std::vector<std::uint8_t>& d) {
    parser_.Parse(exporter_, d.data(), d.size(), StreamTime::FromNanos(5'000'000'000), &packets_,
                  &ifc_);
  }
  IpAddress exporter_ = IpAddress::V4(0xC0000201);
  FlowProtocolCounters counters_;
  SflowParser parser_{DecodeOptions{}, nullptr, &counters_};
  std::vector<PacketMeta> packets_;
  std::vector<SflowInterfaceCounters> ifc_;
};

TEST_F(SflowTest, FlowSampleWithEthernetHeaderBecomesWeightedPacket) {
  const auto hdr = EthIpv4Tcp(1500, 443, 51000);
  Parse(Datagram({{1, FlowSample(1000, {RawHeader(1, 1518, hdr)})}}).b);
  ASSERT_EQ(packets_.size(), 1u);
  const PacketMeta& m = packets_[0];
  EXPECT_EQ(m.sample_weight, 1000u);
  EXPECT_EQ(m.l3_bytes, 1500u);  // from the sampled IP header, not the captured 80 bytes
  EXPECT_EQ(m.wire_bytes, 1518u);
  EXPECT_EQ(m.src, IpAddress::V4(0xC6336407));
  EXPECT_EQ(m.dst, IpAddress::V4(0x0A1E0009));
  EXPECT_EQ(m.src_port, 443);
  EXPECT_EQ(m.dst_port, 51000);
  EXPECT_EQ(m.proto, 6);
  EXPECT_EQ(m.ts.ns, 5'000'000'000);
  EXPECT_EQ(counters_.sampled_packets.Get(), 1u);
  EXPECT_EQ(counters_.sflow_flow_samples.Get(), 1u);
}

TEST_F(SflowTest, ExpandedSampleWithRawIpv6AndExtendedRecordSkipped) {
  Xdr ext_switch;
  ext_switch.U32(100).U32(0).U32(200).U32(0);
  Xdr d;
  // Two records: extended switch (1001, skipped) and the raw IPv6 header.
  Xdr s;
  s.U32(8).U32(0).U32(5).U32(64).U32(640).U32(0).U32(0).U32(5).U32(0).U32(6).U32(2);
  s.Tagged(1001, ext_switch);
  s.Tagged(1, RawHeader(12, 1240, Ipv6Udp(1200)));
  Parse(Datagram({{3, s}}).b);
  ASSERT_EQ(packets_.size(), 1u);
  EXPECT_EQ(packets_[0].sample_weight, 64u);
  EXPECT_EQ(packets_[0].l3_bytes, 1240u);  // payload length + 40
  EXPECT_EQ(packets_[0].proto, 17);
  EXPECT_EQ(packets_[0].dst_port, 53);
  EXPECT_NE(packets_[0].flags & kMetaIpv6, 0);
  EXPECT_EQ(counters_.skipped.Get(), 1u);
}

TEST_F(SflowTest, CounterSampleKeepsGenericInterfaceCounters) {
  Xdr g;
  g.U32(7).U32(6).U64(100'000'000'000ull).U32(1).U32(3);
  g.U64(0x1122334455ull).U32(10).U32(11).U32(12).U32(13).U32(14).U32(15);
  g.U64(0x66778899AAull).U32(20).U32(21).U32(22).U32(23).U32(24).U32(0);
  Xdr s;
  s.U32(1).U32(7).U32(1).Tagged(1, g);
  Parse(Datagram({{2, s}}).b);
  ASSERT_EQ(ifc_.size(), 1u);
  EXPECT_EQ(ifc_[0].if_index, 7u);
  EXPECT_EQ(ifc_[0].if_speed_bps, 100'000'000'000ull);
  EXPECT_EQ(ifc_[0].in_octets, 0x1122334455ull);
  EXPECT_EQ(ifc_[0].in_errors, 14u);
  EXPECT_EQ(ifc_[0].out_octets, 0x66778899AAull);
  EXPECT_EQ(ifc_[0].out_discards, 23u);
  EXPECT_EQ(ifc_[0].agent, IpAddress::V4(0xC0000201));
  EXPECT_EQ(counters_.counter_samples.Get(), 1u);
  EXPECT_TRUE(packets_.empty());
}

TEST_F(SflowTest, MalformedDatagramsAreCountedByReason) {
  Xdr v4;
  v4.U32(4).U32(1);
  Parse(v4.b);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kUnknownVersion), 1u);
  Xdr bad_agent;
  bad_agent.U32(5).U32(3).U32(0).U32(0).U32(0).U32(0);
  Parse(bad_agent.b);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kBadAgentAddress), 1u);
  Parse(Datagram({{1, FlowSample(0, {RawHeader(1, 1518, EthIpv4Tcp(1500, 1, 2))})}}).b);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kBadSamplingRate), 1u);
  Parse(Datagram({{1, FlowSample(10, {RawHeader(2, 100, std::vector<std::uint8_t>(60, 0))})}}).b);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kUnsupportedHeaderProtocol), 1u);
  // An IP header claiming more bytes than the frame had: the decoder refuses it.
  Parse(Datagram({{1, FlowSample(10, {RawHeader(1, 200, EthIpv4Tcp(1500, 1, 2))})}}).b);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kSampleDecodeError), 1u);
  // A sample that claims more bytes than the datagram holds.
  Xdr d = Datagram({{1, FlowSample(10, {RawHeader(1, 1518, EthIpv4Tcp(1500, 1, 2))})}});
  d.b[d.b.size() - FlowSample(10, {RawHeader(1, 1518, EthIpv4Tcp(1500, 1, 2))}).b.size() - 1] =
      0xff;  // low byte of the sample length
  Parse(d.b);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kTruncatedSample), 1u);
  EXPECT_TRUE(packets_.empty());
}

TEST_F(SflowTest, EveryTruncationIsSafeAndCounted) {
  const Xdr d = Datagram({{1, FlowSample(10, {RawHeader(1, 1518, EthIpv4Tcp(1500, 1, 2))})},
                          {3, ExpandedFlowSample(20, {RawHeader(12, 1240, Ipv6Udp(1200))})}});
  for (std::size_t n = 0; n < d.b.size(); ++n) {
    std::vector<std::uint8_t> cut(d.b.begin(), d.b.begin() + static_cast<std::ptrdiff_t>(n));
    Parse(cut);
  }
  // Prefixes that end inside the first sample yield nothing; those that end inside the second
  // yield the first sample's packet only.
  const std::size_t first_end =
      28 + 8 + FlowSample(10, {RawHeader(1, 1518, EthIpv4Tcp(1500, 1, 2))}).b.size();
  EXPECT_EQ(packets_.size(), d.b.size() - first_end);
  for (const PacketMeta& m : packets_) EXPECT_EQ(m.sample_weight, 10u);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kTruncatedDatagram), 28u);  // inside the header
  packets_.clear();
  Parse(d.b);
  ASSERT_EQ(packets_.size(), 2u);
  EXPECT_EQ(packets_[1].sample_weight, 20u);
}

}  // namespace
}  // namespace weighbridge::capture
