// Decoder tests. Every frame is built byte by byte here, and every expected value is worked out
// by hand from those bytes (the arithmetic is written next to each expectation), never taken
// from the decoder.
#include "weighbridge/capture/decode.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace weighbridge::capture {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---- Frame builders -------------------------------------------------------------------------

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void Put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void Put32(Bytes& b, std::uint32_t v) {
  Put16(b, static_cast<std::uint16_t>(v >> 16));
  Put16(b, static_cast<std::uint16_t>(v));
}

// Destination and source MACs, then the EtherType.
Bytes Eth(std::uint16_t type) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  Put16(b, type);
  return b;
}
// One 802.1Q-style tag: TCI (PCP 0, VID) then the next EtherType.
Bytes Tag(std::uint16_t vid, std::uint16_t next) {
  Bytes b;
  Put16(b, vid);
  Put16(b, next);
  return b;
}

struct V4Opts {
  std::uint16_t id = 0x1234;
  std::uint16_t frag = 0;  // flags and offset field as on the wire
  Bytes options;           // multiple of 4 bytes
  int version = 4;
  int ihl = -1;    // -1: from the options
  int total = -1;  // -1: header + payload_len
};
V4Opts FragOpts(std::uint16_t id, std::uint16_t frag) {
  V4Opts o;
  o.id = id;
  o.frag = frag;
  return o;
}
V4Opts VersionOpts(int version) {
  V4Opts o;
  o.version = version;
  return o;
}
V4Opts IhlOpts(int ihl) {
  V4Opts o;
  o.ihl = ihl;
  return o;
}
V4Opts TotalOpts(int total) {
  V4Opts o;
  o.total = total;
  return o;
}
// IPv4 header for `payload_len` bytes of payload (which the caller may or may not append).
Bytes Ip4(std::uint8_t proto, std::uint32_t src, std::uint32_t dst, std::size_t payload_len,
          const V4Opts& o = {}) {
  const std::size_t hlen = 20 + o.options.size();
  const int ihl = o.ihl >= 0 ? o.ihl : static_cast<int>(hlen / 4);
  Bytes b;
  b.push_back(static_cast<std::uint8_t>((o.version << 4) | ihl));
  b.push_back(0);
  Put16(b, static_cast<std::uint16_t>(o.total >= 0 ? static_cast<std::size_t>(o.total)
                                                   : hlen + payload_len));
  Put16(b, o.id);
  Put16(b, o.frag);
  b.push_back(64);
  b.push_back(proto);
  Put16(b, 0);  // checksum: not checked
  Put32(b, src);
  Put32(b, dst);
  b.insert(b.end(), o.options.begin(), o.options.end());
  return b;
}

Bytes V6Addr(std::uint16_t last) {
  Bytes b = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Put16(b, last);
  return b;
}
// IPv6 fixed header with the given payload length field.
Bytes Ip6(std::uint8_t next, std::uint16_t payload_len, std::uint16_t src = 1,
          std::uint16_t dst = 2) {
  Bytes b = {0x60, 0, 0, 0};
  Put16(b, payload_len);
  b.push_back(next);
  b.push_back(64);
  const Bytes s = V6Addr(src);
  const Bytes d = V6Addr(dst);
  b.insert(b.end(), s.begin(), s.end());
  b.insert(b.end(), d.begin(), d.end());
  return b;
}
// A generic extension header of `len8` 8-byte units beyond the first (hop-by-hop, routing,
// destination options, mobility), padded with PadN.
Bytes Ext(std::uint8_t next, std::uint8_t len8) {
  Bytes b = {next, len8};
  const std::size_t total = (std::size_t{len8} + 1) * 8;
  b.push_back(1);  // PadN
  b.push_back(static_cast<std::uint8_t>(total - 4));
  b.resize(total, 0);
  return b;
}
Bytes Frag6(std::uint8_t next, std::uint16_t offset_units, bool more, std::uint32_t id) {
  Bytes b = {next, 0};
  Put16(b, static_cast<std::uint16_t>((offset_units << 3) | (more ? 1 : 0)));
  Put32(b, id);
  return b;
}

Bytes Tcp(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
          std::uint8_t flags, int doff = 5) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put32(b, seq);
  Put32(b, ack);
  b.push_back(static_cast<std::uint8_t>(doff << 4));
  b.push_back(flags);
  Put16(b, 65535);                                                // window
  Put16(b, 0);                                                    // checksum
  Put16(b, 0);                                                    // urgent
  if (doff > 5) b.resize(static_cast<std::size_t>(doff) * 4, 1);  // NOP options
  return b;
}
Bytes Udp(std::uint16_t sport, std::uint16_t dport, std::uint16_t len) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put16(b, len);
  Put16(b, 0);
  return b;
}
Bytes Zeros(std::size_t n) {
  return Bytes(n, 0);
}
Bytes Head(const Bytes& b, std::size_t n) {
  return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
}

constexpr std::uint32_t kA = 0x0a000001;  // 10.0.0.1
constexpr std::uint32_t kB = 0xc0000202;  // 192.0.2.2
constexpr std::uint32_t kC = 0x0a1e0105;  // 10.30.1.5
constexpr std::uint32_t kD = 0xc6336401;  // 198.51.100.1

// An Ethernet/IPv4/TCP frame from kA:1234 to kB:80 with `payload` bytes of data appended.
Bytes TcpFrame(std::size_t payload) {
  return Cat(
      {Eth(0x0800), Ip4(6, kA, kB, 20 + payload), Tcp(1234, 80, 1000, 2000, 0x18), Zeros(payload)});
}

// ---- Fixture --------------------------------------------------------------------------------

class DecodeTest : public ::testing::Test {
 protected:
  void Make(TunnelMode mode = TunnelMode::kInner, const SiteClassifier* site = nullptr) {
    opts_.tunnels = mode;
    dec_ = std::make_unique<Decoder>(opts_, site);
  }
  void SetUp() override { Make(); }

  // Decodes `b` captured whole, or with `caplen`/`wire` given (0: the frame's size).
  DecodeResult Run(int link, const Bytes& b, std::uint32_t wire = 0, std::uint32_t caplen = 0,
                   std::int64_t ts_ns = 1'000'000'000) {
    const auto size = static_cast<std::uint32_t>(b.size());
    if (caplen == 0) caplen = size;
    if (wire == 0) wire = size;
    return dec_->Decode(link, b.data(), caplen, wire, StreamTime::FromNanos(ts_ns), &m_);
  }
  DecodeResult RunEth(const Bytes& b, std::uint32_t wire = 0) {
    return Run(kLinkEthernet, b, wire);
  }

  DecodeOptions opts_;
  std::unique_ptr<Decoder> dec_;
  PacketMeta m_;
};

// ---- Every reason has a case ----------------------------------------------------------------

struct ReasonCase {
  const char* what;
  DecodeResult expected;
  int link;
  Bytes frame;
  std::uint32_t wire = 0;
};

std::vector<ReasonCase> ReasonCases() {
  std::vector<ReasonCase> c;
  const Bytes tcp = Tcp(1, 2, 0, 0, 0x02);
  c.push_back({"plain tcp", DecodeResult::kOk, kLinkEthernet, TcpFrame(10)});
  c.push_back({"netlink", DecodeResult::kUnsupportedLinkType, 253, TcpFrame(0)});
  c.push_back({"10-byte ethernet", DecodeResult::kTruncatedLink, kLinkEthernet, Zeros(10)});
  c.push_back({"arp", DecodeResult::kNonIp, kLinkEthernet, Cat({Eth(0x0806), Zeros(28)})});
  c.push_back({"5 vlan tags", DecodeResult::kTooManyVlanTags, kLinkEthernet,
               Cat({Eth(0x88a8), Tag(1, 0x8100), Tag(2, 0x8100), Tag(3, 0x8100), Tag(4, 0x8100),
                    Tag(5, 0x0800), Ip4(6, kA, kB, 20), tcp})});
  {
    Bytes labels;
    for (int i = 0; i < 9; ++i) Put32(labels, (16u + static_cast<std::uint32_t>(i)) << 12);
    c.push_back({"9 mpls labels", DecodeResult::kTooManyMplsLabels, kLinkEthernet,
                 Cat({Eth(0x8847), labels, Ip4(6, kA, kB, 20), tcp})});
  }
  c.push_back({"ipv4 cut at 10 bytes", DecodeResult::kTruncatedIpv4, kLinkEthernet,
               Cat({Eth(0x0800), Head(Ip4(6, kA, kB, 20), 10)})});
  c.push_back({"version 5 in ipv4 ethertype", DecodeResult::kBadIpv4Version, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(6, kA, kB, 20, VersionOpts(5)), tcp})});
  c.push_back({"ihl 4", DecodeResult::kBadIpv4Ihl, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(6, kA, kB, 20, IhlOpts(4)), tcp})});
  c.push_back({"total length 10", DecodeResult::kBadIpv4TotalLength, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(6, kA, kB, 20, TotalOpts(10)), tcp})});
  c.push_back({"total 1500 in a 54-byte wire frame", DecodeResult::kIpLengthExceedsFrame,
               kLinkEthernet, Cat({Eth(0x0800), Ip4(6, kA, kB, 1480), tcp})});
  c.push_back({"ipv6 cut at 30", DecodeResult::kTruncatedIpv6, kLinkEthernet,
               Cat({Eth(0x86dd), Zeros(30)})});
  c.push_back({"hop-by-hop not captured", DecodeResult::kTruncatedIpv6ExtHeader, kLinkEthernet,
               Cat({Eth(0x86dd), Ip6(0, 28)})});
  {
    Bytes chain;
    for (int i = 0; i < 9; ++i) {
      const Bytes e = Ext(i == 8 ? 6 : 60, 0);
      chain.insert(chain.end(), e.begin(), e.end());
    }
    c.push_back(
        {"9 destination options", DecodeResult::kTooManyIpv6ExtHeaders, kLinkEthernet,
         Cat({Eth(0x86dd), Ip6(60, static_cast<std::uint16_t>(chain.size() + 20)), chain, tcp})});
  }
  c.push_back({"payload length 0, hop-by-hop without jumbo", DecodeResult::kBadIpv6Jumbo,
               kLinkEthernet, Cat({Eth(0x86dd), Ip6(0, 0), Ext(6, 0), tcp})});
  c.push_back({"tcp cut at 10", DecodeResult::kTruncatedTcp, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(6, kA, kB, 20), Zeros(10)}), 14 + 40});
  c.push_back({"tcp data offset 4", DecodeResult::kBadTcpDataOffset, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(6, kA, kB, 20), Tcp(1, 2, 0, 0, 0x02, 4)})});
  c.push_back({"udp cut at 4", DecodeResult::kTruncatedUdp, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(17, kA, kB, 8), Zeros(4)}), 14 + 28});
  c.push_back({"udp length 5", DecodeResult::kBadUdpLength, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(17, kA, kB, 8), Udp(1, 2, 5)})});
  c.push_back({"icmp cut at 2", DecodeResult::kTruncatedIcmp, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(1, kA, kB, 8), Zeros(2)}), 14 + 28});
  c.push_back({"gre header cut at 2", DecodeResult::kTruncatedTunnel, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(47, kA, kB, 4), Zeros(2)}), 14 + 24});
  c.push_back({"gre protocol 0x1234", DecodeResult::kUnsupportedTunnel, kLinkEthernet,
               Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 20 + 20), Bytes{0, 0, 0x12, 0x34},
                    Ip4(6, kC, kD, 20), tcp})});
  {
    // Five IPv4-in-IPv4 levels inside the outer packet: depth 5 > 4.
    Bytes inner = Cat({Ip4(6, kC, kD, 20), tcp});
    for (int i = 0; i < 5; ++i) inner = Cat({Ip4(4, kA, kB, inner.size()), inner});
    c.push_back({"ip-in-ip 5 deep", DecodeResult::kTunnelTooDeep, kLinkEthernet,
                 Cat({Eth(0x0800), inner})});
  }
  return c;
}

TEST_F(DecodeTest, EveryReasonHasACase) {
  std::set<DecodeResult> covered;
  for (const ReasonCase& rc : ReasonCases()) {
    SCOPED_TRACE(rc.what);
    EXPECT_EQ(Run(rc.link, rc.frame, rc.wire), rc.expected)
        << "got " << ReasonName(Run(rc.link, rc.frame, rc.wire));
    covered.insert(rc.expected);
  }
  for (std::size_t i = 0; i < kDecodeResultCount; ++i) {
    EXPECT_TRUE(covered.count(static_cast<DecodeResult>(i)) == 1)
        << "no case for " << ReasonName(static_cast<DecodeResult>(i));
  }
  // Every outcome was counted under its reason; 2 decodes per case.
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < kDecodeResultCount; ++i) total += dec_->counters().by_reason[i].Get();
  EXPECT_EQ(total, dec_->counters().frames.Get());
}

// The names are a shipped interface: they must be exactly those written in decode.h's comments
// (in enum order), and each must be documented in docs/decode-reasons.md.
TEST(ReasonNames, MatchHeaderCommentsAndDocs) {
  std::ifstream header(std::string(WB_SOURCE_DIR) + "/include/weighbridge/capture/decode.h");
  ASSERT_TRUE(header.good());
  std::vector<std::string> from_header;
  bool in_enum = false;
  for (std::string line; std::getline(header, line);) {
    if (line.find("enum class DecodeResult") != std::string::npos) in_enum = true;
    if (!in_enum) continue;
    if (line.find("kCount") != std::string::npos) break;
    const auto q = line.find("// \"");
    if (q == std::string::npos) continue;
    const auto end = line.find('"', q + 4);
    from_header.push_back(line.substr(q + 4, end - q - 4));
  }
  ASSERT_EQ(from_header.size(), kDecodeResultCount - 1);  // every value but kOk is named there
  std::ifstream doc_file(std::string(WB_SOURCE_DIR) + "/docs/decode-reasons.md");
  ASSERT_TRUE(doc_file.good());
  std::stringstream doc;
  doc << doc_file.rdbuf();
  for (std::size_t i = 1; i < kDecodeResultCount; ++i) {
    const std::string name(ReasonName(static_cast<DecodeResult>(i)));
    EXPECT_EQ(name, from_header[i - 1]);
    EXPECT_NE(doc.str().find("`" + name + "`"), std::string::npos) << name << " not documented";
  }
  EXPECT_EQ(ReasonName(DecodeResult::kOk), "ok");
}

// ---- IPv4 and transport ---------------------------------------------------------------------

TEST_F(DecodeTest, Ipv4TcpFields) {
  ASSERT_EQ(RunEth(TcpFrame(100)), DecodeResult::kOk);
  EXPECT_EQ(m_.src, IpAddress::V4(kA));
  EXPECT_EQ(m_.dst, IpAddress::V4(kB));
  EXPECT_EQ(m_.proto, 6);
  EXPECT_EQ(m_.src_port, 1234);
  EXPECT_EQ(m_.dst_port, 80);
  EXPECT_EQ(m_.tcp_seq, 1000u);
  EXPECT_EQ(m_.tcp_ack, 2000u);
  EXPECT_EQ(m_.tcp_flags, kTcpPsh | kTcpAck);
  EXPECT_EQ(m_.l3_bytes, 140u);  // 20 IP + 20 TCP + 100
  EXPECT_EQ(m_.payload_bytes, 100u);
  EXPECT_EQ(m_.wire_bytes, 154u);  // + 14 Ethernet
  EXPECT_EQ(m_.vlan, 0);
  EXPECT_EQ(m_.flags, 0);
  EXPECT_EQ(m_.ts.ns, 1'000'000'000);
  EXPECT_EQ(m_.direction, Direction::kTransit);
  const DecodeCounters& c = dec_->counters();
  EXPECT_EQ(c.frames.Get(), 1u);
  EXPECT_EQ(c.ip_packets.Get(), 1u);
  EXPECT_EQ(c.ipv4_packets.Get(), 1u);
  EXPECT_EQ(c.l3_bytes.Get(), 140u);
  EXPECT_EQ(c.wire_bytes.Get(), 154u);
  EXPECT_EQ(c.direction_packets[static_cast<int>(Direction::kTransit)].Get(), 1u);
  EXPECT_EQ(c.direction_l3_bytes[static_cast<int>(Direction::kTransit)].Get(), 140u);
}

TEST_F(DecodeTest, SnaplenTruncatedFrameCountsFromHeaders) {
  // Only 54 of 1514 bytes captured: l3 = 1500 from the header, payload = 1500 - 40.
  const Bytes f = Cat({Eth(0x0800), Ip4(6, kA, kB, 1480), Tcp(5, 6, 7, 8, 0x10)});
  ASSERT_EQ(Run(kLinkEthernet, f, 1514), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 1500u);
  EXPECT_EQ(m_.payload_bytes, 1460u);
  EXPECT_EQ(m_.wire_bytes, 1514u);
  EXPECT_EQ(dec_->counters().wire_bytes.Get(), 1514u);
}

TEST_F(DecodeTest, Ipv4OptionsAreSkipped) {
  // IHL 8: 12 bytes of options (NOPs), then TCP with 12 bytes of options (doff 8), 30 of data.
  V4Opts o;
  o.options = Bytes(12, 1);
  const Bytes f =
      Cat({Eth(0x0800), Ip4(6, kA, kB, 32 + 30, o), Tcp(443, 5555, 9, 10, 0x12, 8), Zeros(30)});
  ASSERT_EQ(RunEth(f), DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 443);
  EXPECT_EQ(m_.dst_port, 5555);
  EXPECT_EQ(m_.l3_bytes, 32u + 32 + 30);
  EXPECT_EQ(m_.payload_bytes, 30u);
  // Options not captured: the L4 header cannot be found.
  EXPECT_EQ(Run(kLinkEthernet, f, 0, 14 + 28), DecodeResult::kTruncatedIpv4);
}

TEST_F(DecodeTest, EthernetPaddingIsNotCounted) {
  // A 40-byte IPv4/TCP packet padded to the 60-byte Ethernet minimum.
  const Bytes f = Cat({TcpFrame(0), Zeros(6)});
  ASSERT_EQ(f.size(), 60u);
  ASSERT_EQ(RunEth(f), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 40u);
  EXPECT_EQ(m_.payload_bytes, 0u);
  EXPECT_EQ(m_.wire_bytes, 60u);
}

TEST_F(DecodeTest, LengthsThatLie) {
  // UDP length says 1000, the IP length says 8 + 12: the IP length wins.
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 20), Udp(53, 53, 1000), Zeros(12)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.payload_bytes, 12u);
  // UDP length says 8 (GSO per-segment value), the IP length 1008: payload 1000.
  ASSERT_EQ(Run(kLinkEthernet, Cat({Eth(0x0800), Ip4(17, kA, kB, 1008), Udp(1, 2, 8)}), 14 + 1028),
            DecodeResult::kOk);
  EXPECT_EQ(m_.payload_bytes, 1000u);
  // IP length 30 leaves 10 bytes for TCP, whose header claims 20.
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(6, kA, kB, 10), Tcp(1, 2, 0, 0, 2), Zeros(20)})),
            DecodeResult::kBadTcpDataOffset);
  // Data offset 15 (60 bytes) against a 40-byte L3 payload.
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(6, kA, kB, 40), Tcp(1, 2, 0, 0, 2, 15)})),
            DecodeResult::kBadTcpDataOffset);
  // Total length one byte more than the wire held.
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(6, kA, kB, 21), Tcp(1, 2, 0, 0, 2)})),
            DecodeResult::kIpLengthExceedsFrame);
  // Jumbo length beyond the wire.
  Bytes hbh = {6, 0, 0xC2, 4};
  Put32(hbh, 100000);
  EXPECT_EQ(Run(kLinkEthernet, Cat({Eth(0x86dd), Ip6(0, 0), hbh, Tcp(1, 2, 0, 0, 2)}), 14 + 5000),
            DecodeResult::kIpLengthExceedsFrame);
}

TEST_F(DecodeTest, TsoSuperPacketWithZeroTotalLength) {
  // IPv4 total length 0: the frame's remaining wire length (64000 - 14) is the packet.
  const Bytes f = Cat({Eth(0x0800), Ip4(6, kA, kB, 0, TotalOpts(0)), Tcp(1, 2, 3, 4, 0x10)});
  ASSERT_EQ(Run(kLinkEthernet, f, 64000), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 63986u);
  EXPECT_EQ(m_.payload_bytes, 63986u - 40);
  // IPv6 payload length 0 without a jumbo option, frame larger than the field can express.
  const Bytes g = Cat({Eth(0x86dd), Ip6(6, 0), Tcp(1, 2, 3, 4, 0x10)});
  ASSERT_EQ(Run(kLinkEthernet, g, 14 + 90000), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 90000u);
  // ...but in a small frame it is just wrong.
  EXPECT_EQ(Run(kLinkEthernet, g, 14 + 1000), DecodeResult::kBadIpv6Jumbo);
}

TEST_F(DecodeTest, UdpAndIcmpAndOtherProtocols) {
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 50), Udp(5353, 53, 58), Zeros(50)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 17);
  EXPECT_EQ(m_.src_port, 5353);
  EXPECT_EQ(m_.dst_port, 53);
  EXPECT_EQ(m_.payload_bytes, 50u);
  EXPECT_EQ(m_.l3_bytes, 78u);
  // ICMP echo: no ports, no payload_bytes.
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(1, kA, kB, 64), Bytes{8, 0, 0, 0}, Zeros(60)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 1);
  EXPECT_EQ(m_.src_port, 0);
  EXPECT_EQ(m_.payload_bytes, 0u);
  EXPECT_EQ(m_.l3_bytes, 84u);
  // SCTP (132): its ports lead the header, as in UDP.
  ASSERT_EQ(
      RunEth(Cat({Eth(0x0800), Ip4(132, kA, kB, 100), Bytes{0x0b, 0x59, 0x0b, 0x5a}, Zeros(96)})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 132);
  EXPECT_EQ(m_.src_port, 2905);
  EXPECT_EQ(m_.dst_port, 2906);
  EXPECT_EQ(m_.payload_bytes, 0u);
  EXPECT_EQ(m_.l3_bytes, 120u);
  // ESP (50): no ports.
  ASSERT_EQ(
      RunEth(Cat({Eth(0x0800), Ip4(50, kA, kB, 100), Bytes{0x0b, 0x59, 0x0b, 0x5a}, Zeros(96)})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 0);
}

TEST_F(DecodeTest, IcmpErrorIsChargedToTheIcmpPacket) {
  // Destination unreachable from kD to kA quoting kA:1234 -> kB:80 TCP.
  const Bytes quoted = Cat({Ip4(6, kA, kB, 20 + 1000), Tcp(1234, 80, 77, 0, 0x18)});
  const Bytes icmp = Cat({Bytes{3, 3, 0, 0, 0, 0, 0, 0}, quoted});
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(1, kD, kA, icmp.size()), icmp})), DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 1);
  EXPECT_EQ(m_.src, IpAddress::V4(kD));
  EXPECT_EQ(m_.dst, IpAddress::V4(kA));
  EXPECT_EQ(m_.src_port, 0);
  EXPECT_EQ(m_.dst_port, 0);
  EXPECT_EQ(m_.tcp_seq, 0u);
  EXPECT_EQ(m_.l3_bytes, 20u + 8 + 40);
  EXPECT_EQ(m_.flags & kMetaTunnelled, 0);
  // ICMPv6 packet too big quoting IPv6/UDP: charged to ICMPv6.
  const Bytes q6 = Cat({Ip6(17, 1400, 2, 1), Udp(9, 10, 1400)});
  const Bytes icmp6 = Cat({Bytes{2, 0, 0, 0, 0, 0, 0x05, 0xdc}, q6});
  ASSERT_EQ(
      RunEth(Cat({Eth(0x86dd), Ip6(58, static_cast<std::uint16_t>(icmp6.size()), 3, 1), icmp6})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 58);
  EXPECT_EQ(m_.src_port, 0);
  EXPECT_EQ(m_.l3_bytes, 40u + 8 + 48);
}

// ---- Link types -----------------------------------------------------------------------------

TEST_F(DecodeTest, LinkTypes) {
  const Bytes ip_tcp = Cat({Ip4(6, kA, kB, 20 + 5), Tcp(1, 2, 3, 4, 0x10), Zeros(5)});  // l3 45
  const Bytes ip6_udp = Cat({Ip6(17, 8 + 7), Udp(7, 8, 15), Zeros(7)});                 // l3 55

  struct Case {
    const char* what;
    int link;
    Bytes frame;
    std::uint32_t l3;
    bool v6;
  };
  Bytes sll = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
  Put16(sll, 0x0800);
  Bytes sll6 = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
  Put16(sll6, 0x86dd);
  Bytes sll2;
  Put16(sll2, 0x86dd);
  Put16(sll2, 0);
  Put32(sll2, 3);     // interface index
  Put16(sll2, 1);     // ARPHRD_ETHER
  sll2.push_back(4);  // outgoing
  sll2.push_back(6);
  for (int i = 0; i < 8; ++i) sll2.push_back(static_cast<std::uint8_t>(i));
  const std::vector<Case> cases = {
      {"ethernet", kLinkEthernet, Cat({Eth(0x0800), ip_tcp}), 45, false},
      {"sll v4", kLinkLinuxSll, Cat({sll, ip_tcp}), 45, false},
      {"sll v6", kLinkLinuxSll, Cat({sll6, ip6_udp}), 55, true},
      {"sll2 v6", kLinkLinuxSll2, Cat({sll2, ip6_udp}), 55, true},
      {"raw v4", kLinkRaw, ip_tcp, 45, false},
      {"raw v6", kLinkRaw, ip6_udp, 55, true},
      {"dlt raw 12", kLinkDltRaw, ip_tcp, 45, false},
      {"dlt raw 14", kLinkDltRawOpenBsd, ip6_udp, 55, true},
      {"linktype ipv4", kLinkIpv4, ip_tcp, 45, false},
      {"linktype ipv6", kLinkIpv6, ip6_udp, 55, true},
      {"null little-endian AF_INET", kLinkNull, Cat({Bytes{2, 0, 0, 0}, ip_tcp}), 45, false},
      {"null big-endian AF_INET", kLinkNull, Cat({Bytes{0, 0, 0, 2}, ip_tcp}), 45, false},
      {"null AF_INET6 24", kLinkNull, Cat({Bytes{24, 0, 0, 0}, ip6_udp}), 55, true},
      {"null AF_INET6 28", kLinkNull, Cat({Bytes{28, 0, 0, 0}, ip6_udp}), 55, true},
      {"null AF_INET6 30 big-endian", kLinkNull, Cat({Bytes{0, 0, 0, 30}, ip6_udp}), 55, true},
      {"loop AF_INET", kLinkLoop, Cat({Bytes{0, 0, 0, 2}, ip_tcp}), 45, false},
      {"loop AF_INET6", kLinkLoop, Cat({Bytes{0, 0, 0, 24}, ip6_udp}), 55, true},
      {"ppp ff03 ipv4", kLinkPpp, Cat({Bytes{0xff, 0x03, 0x00, 0x21}, ip_tcp}), 45, false},
      {"ppp no address ipv4", kLinkPpp, Cat({Bytes{0x00, 0x21}, ip_tcp}), 45, false},
      {"ppp compressed protocol", kLinkPpp, Cat({Bytes{0x21}, ip_tcp}), 45, false},
      {"ppp ipv6", kLinkPpp, Cat({Bytes{0xff, 0x03, 0x00, 0x57}, ip6_udp}), 55, true},
      {"ppp hdlc (50)", kLinkPppHdlc, Cat({Bytes{0xff, 0x03, 0x00, 0x21}, ip_tcp}), 45, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_EQ(Run(c.link, c.frame), DecodeResult::kOk);
    EXPECT_EQ(m_.l3_bytes, c.l3);
    EXPECT_EQ((m_.flags & kMetaIpv6) != 0, c.v6);
    EXPECT_EQ(m_.proto, c.v6 ? 17 : 6);
  }
  EXPECT_EQ(Run(kLinkPpp, Cat({Bytes{0xff, 0x03, 0xc0, 0x21}, Zeros(10)})), DecodeResult::kNonIp);
  EXPECT_EQ(Run(kLinkNull, Cat({Bytes{7, 0, 0, 0}, ip_tcp})), DecodeResult::kNonIp);
  EXPECT_EQ(Run(kLinkNull, Bytes{2, 0}), DecodeResult::kTruncatedLink);
  EXPECT_EQ(Run(kLinkLinuxSll, Zeros(15)), DecodeResult::kTruncatedLink);
  EXPECT_EQ(Run(kLinkLinuxSll2, Zeros(19)), DecodeResult::kTruncatedLink);
  EXPECT_EQ(Run(kLinkIpv4, ip6_udp), DecodeResult::kBadIpv4Version);
  EXPECT_EQ(Run(kLinkIpv6, ip_tcp), DecodeResult::kBadIpv4Version);
  EXPECT_EQ(Run(kLinkRaw, Cat({Bytes{0x50}, Zeros(40)})), DecodeResult::kBadIpv4Version);
  EXPECT_EQ(Run(253, ip_tcp), DecodeResult::kUnsupportedLinkType);  // NETLINK
  EXPECT_EQ(Run(182, ip_tcp), DecodeResult::kUnsupportedLinkType);
  EXPECT_EQ(Run(kLinkRaw, Bytes{}), DecodeResult::kTruncatedIpv4);
}

// ---- VLAN, MPLS, PPPoE ----------------------------------------------------------------------

TEST_F(DecodeTest, VlanTagsGiveTheOutermostVid) {
  const Bytes ip = Cat({Ip4(6, kA, kB, 20), Tcp(1, 2, 0, 0, 2)});
  ASSERT_EQ(RunEth(Cat({Eth(0x8100), Tag(0x2000 | 100, 0x0800), ip})), DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 100);  // PCP bits masked off
  ASSERT_EQ(RunEth(Cat({Eth(0x88a8), Tag(300, 0x8100), Tag(42, 0x0800), ip})), DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 300);
  EXPECT_EQ(m_.l3_bytes, 40u);
  ASSERT_EQ(RunEth(Cat({Eth(0x9100), Tag(7, 0x8100), Tag(8, 0x0800), ip})), DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 7);
  ASSERT_EQ(RunEth(Cat({Eth(0x8100), Tag(4095, 0x86dd), Ip6(59, 0)})), DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 4095);
  EXPECT_EQ(m_.l3_bytes, 40u);  // no next header, empty payload
  EXPECT_EQ(m_.proto, 59);
  // Four tags is the limit, and is fine.
  EXPECT_EQ(RunEth(Cat(
                {Eth(0x88a8), Tag(1, 0x8100), Tag(2, 0x8100), Tag(3, 0x8100), Tag(4, 0x0800), ip})),
            DecodeResult::kOk);
  EXPECT_EQ(RunEth(Cat({Eth(0x8100), Bytes{0, 1}})), DecodeResult::kTruncatedLink);
  EXPECT_EQ(RunEth(Cat({Eth(0x8100), Tag(5, 0x88cc), Zeros(20)})), DecodeResult::kNonIp);
}

Bytes Label(std::uint32_t label, bool bottom) {
  Bytes b;
  Put32(b, (label << 12) | (bottom ? 0x100u : 0u) | 64u);
  return b;
}

TEST_F(DecodeTest, MplsStacks) {
  const Bytes ip = Cat({Ip4(17, kA, kB, 8 + 4), Udp(1, 2, 12), Zeros(4)});
  ASSERT_EQ(RunEth(Cat({Eth(0x8847), Label(100, false), Label(200, true), ip})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 32u);
  EXPECT_EQ(m_.flags, 0);
  ASSERT_EQ(RunEth(Cat({Eth(0x8848), Label(16, true), Ip6(17, 8), Udp(1, 2, 8)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 48u);
  // VLAN then MPLS.
  ASSERT_EQ(RunEth(Cat({Eth(0x8100), Tag(12, 0x8847), Label(5, true), ip})), DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 12);
  // Ethernet pseudo-wire: control word 0x00000000, then a whole Ethernet frame (tagged 99, which
  // is the customer's VLAN, not ours).
  ASSERT_EQ(
      RunEth(Cat({Eth(0x8847), Label(300, true), Zeros(4), Eth(0x8100), Tag(99, 0x0800), ip})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 32u);
  EXPECT_EQ(m_.vlan, 0);
  EXPECT_EQ(m_.src, IpAddress::V4(kA));
  // First nibble 1 after the stack: no idea what it is.
  EXPECT_EQ(RunEth(Cat({Eth(0x8847), Label(1, true), Bytes{0x10}, Zeros(30)})),
            DecodeResult::kUnsupportedTunnel);
  EXPECT_EQ(RunEth(Cat({Eth(0x8847), Label(1, false), Bytes{0, 0}})), DecodeResult::kTruncatedLink);
}

TEST_F(DecodeTest, PppoeSession) {
  const auto pppoe = [](std::uint16_t proto, std::uint16_t len) {
    Bytes b = {0x11, 0x00, 0x12, 0x34};
    Put16(b, len);
    Put16(b, proto);
    return b;
  };
  const Bytes ip = Cat({Ip4(6, kA, kB, 20 + 8), Tcp(1, 2, 0, 0, 0x10), Zeros(8)});
  ASSERT_EQ(RunEth(Cat({Eth(0x8864), pppoe(0x0021, 50), ip})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 48u);
  EXPECT_EQ(m_.payload_bytes, 8u);
  ASSERT_EQ(RunEth(Cat({Eth(0x8864), pppoe(0x0057, 50), Ip6(6, 20), Tcp(1, 2, 0, 0, 0x10)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 60u);
  EXPECT_EQ(RunEth(Cat({Eth(0x8864), pppoe(0xc021, 10), Zeros(10)})), DecodeResult::kNonIp);
  EXPECT_EQ(RunEth(Cat({Eth(0x8863), Zeros(20)})), DecodeResult::kNonIp);  // discovery
  EXPECT_EQ(RunEth(Cat({Eth(0x8864), Bytes{0x11, 0, 0}})), DecodeResult::kTruncatedTunnel);
  EXPECT_EQ(RunEth(Cat({Eth(0x8864), Bytes{0x21, 0, 0, 0, 0, 0, 0, 0x21}, ip})),
            DecodeResult::kUnsupportedTunnel);
}

// ---- IPv6 extension headers and jumbograms --------------------------------------------------

TEST_F(DecodeTest, Ipv6ExtensionHeaders) {
  // hop-by-hop(8) -> routing(24) -> destination options(16) -> AH(4*(4+2)=24) -> TCP(20) + 10.
  const Bytes hbh = Ext(43, 0);
  const Bytes rt = Ext(60, 2);
  const Bytes dst = Ext(51, 1);
  Bytes auth = {6, 4, 0, 0};
  auth.resize(24, 0xaa);
  const std::size_t plen = 8 + 24 + 16 + 24 + 20 + 10;
  const Bytes f = Cat({Eth(0x86dd), Ip6(0, static_cast<std::uint16_t>(plen)), hbh, rt, dst, auth,
                       Tcp(22, 40000, 5, 6, 0x10), Zeros(10)});
  ASSERT_EQ(RunEth(f), DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 6);
  EXPECT_EQ(m_.src_port, 22);
  EXPECT_EQ(m_.l3_bytes, 40u + plen);
  EXPECT_EQ(m_.payload_bytes, 10u);
  EXPECT_EQ(m_.src, IpAddress::V6Bytes(V6Addr(1).data()));
  EXPECT_EQ(m_.flags, kMetaIpv6);
  EXPECT_EQ(dec_->counters().ipv6_packets.Get(), 1u);
  // Mobility header (135) then no next header.
  ASSERT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(135, 8), Ext(59, 0)})), DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 59);
  EXPECT_EQ(m_.l3_bytes, 48u);
  // The chain is captured but claims more than the payload length (8 < 8 + 16).
  EXPECT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(60, 8), Ext(60, 0), Ext(59, 1)})),
            DecodeResult::kTruncatedIpv6ExtHeader);
  // Routing header cut by the snaplen.
  EXPECT_EQ(Run(kLinkEthernet, f, 0, 14 + 40 + 8 + 10), DecodeResult::kTruncatedIpv6ExtHeader);
  // ESP (50) ends the walk: accounted, no ports.
  ASSERT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(50, 100), Zeros(100)})), DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 50);
  EXPECT_EQ(m_.src_port, 0);
}

TEST_F(DecodeTest, Ipv6Jumbogram) {
  // Like tcpdump's bigtcp-ipv6-hbh.pcap: payload length 0, hop-by-hop with Jumbo Payload 80040.
  Bytes hbh = {6, 0, 0xC2, 4};
  Put32(hbh, 80040);  // 8 hop-by-hop + 20 TCP + 80012 data
  const Bytes f = Cat({Eth(0x86dd), Ip6(0, 0), hbh, Tcp(1, 2, 3, 4, 0x10)});
  ASSERT_EQ(Run(kLinkEthernet, f, 14 + 40 + 80040), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 80080u);
  EXPECT_EQ(m_.payload_bytes, 80040u - 8 - 20);
  // Jumbo option with a length that fits the normal field is invalid (RFC 2675).
  Bytes small = {6, 0, 0xC2, 4};
  Put32(small, 1000);
  EXPECT_EQ(Run(kLinkEthernet, Cat({Eth(0x86dd), Ip6(0, 0), small, Tcp(1, 2, 3, 4, 0x10)}),
                14 + 40 + 1000),
            DecodeResult::kBadIpv6Jumbo);
  // Payload length 0, no extension headers, TCP, small frame.
  EXPECT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(6, 0), Tcp(1, 2, 3, 4, 0x10)})),
            DecodeResult::kBadIpv6Jumbo);
}

// ---- Fragments ------------------------------------------------------------------------------

TEST_F(DecodeTest, Ipv4FragmentsChargedToTheFirst) {
  // A 3000-byte UDP datagram (8 + 2992) split 1480 / 1480 / 40 data bytes.
  const V4Opts first = FragOpts(77, 0x2000);
  ASSERT_EQ(Run(kLinkEthernet, Cat({Eth(0x0800), Ip4(17, kA, kB, 1480, first), Udp(4000, 9, 3000)}),
                14 + 1500),
            DecodeResult::kOk);
  EXPECT_EQ(m_.flags, kMetaFragment);
  EXPECT_EQ(m_.src_port, 4000);
  EXPECT_EQ(m_.payload_bytes, 1480u - 8);
  EXPECT_EQ(m_.l3_bytes, 1500u);
  const V4Opts middle = FragOpts(77, 0x2000 | 185);  // offset 185 * 8 = 1480
  ASSERT_EQ(
      Run(kLinkEthernet, Cat({Eth(0x0800), Ip4(17, kA, kB, 1480, middle), Zeros(8)}), 14 + 1500),
      DecodeResult::kOk);
  EXPECT_EQ(m_.flags, kMetaFragment | kMetaLaterFragment);
  EXPECT_EQ(m_.proto, 17);
  EXPECT_EQ(m_.src_port, 4000);
  EXPECT_EQ(m_.dst_port, 9);
  EXPECT_EQ(m_.payload_bytes, 1480u);
  const V4Opts last = FragOpts(77, 370);
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 40, last), Zeros(40)})), DecodeResult::kOk);
  EXPECT_EQ(m_.dst_port, 9);
  EXPECT_EQ(m_.l3_bytes, 60u);
  EXPECT_EQ(dec_->counters().fragments_unmatched.Get(), 0u);

  // Another id: never saw the first fragment.
  const V4Opts orphan = FragOpts(78, 185);
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 40, orphan), Zeros(40)})), DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 0);
  EXPECT_EQ(m_.flags, kMetaFragment | kMetaLaterFragment);
  EXPECT_EQ(dec_->counters().fragments_unmatched.Get(), 1u);
  // Same id, other direction: a different datagram.
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kB, kA, 40, last), Zeros(40)})), DecodeResult::kOk);
  EXPECT_EQ(dec_->counters().fragments_unmatched.Get(), 2u);
  // The original after the 30 s timeout.
  ASSERT_EQ(Run(kLinkEthernet, Cat({Eth(0x0800), Ip4(17, kA, kB, 40, last), Zeros(40)}), 0, 0,
                1'000'000'000 + 31 * kNanosPerSecond),
            DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 0);
  EXPECT_EQ(dec_->counters().fragments_unmatched.Get(), 3u);
  // A first TCP fragment: seq and flags as usual, payload from its own length.
  const V4Opts tcp_first = FragOpts(500, 0x2000);
  ASSERT_EQ(
      Run(kLinkEthernet,
          Cat({Eth(0x0800), Ip4(6, kA, kB, 1000, tcp_first), Tcp(1, 2, 99, 98, 0x18)}), 14 + 1020),
      DecodeResult::kOk);
  EXPECT_EQ(m_.tcp_seq, 99u);
  EXPECT_EQ(m_.payload_bytes, 980u);
}

TEST_F(DecodeTest, TinyFirstFragmentIsAccountedWithItsPorts) {
  // RFC 1858 tiny fragment: 16 bytes of TCP header in the first fragment (as in nDPI's
  // ip_fragmented_garbage.pcap), the rest in the next.
  const Bytes tcp = Tcp(1111, 22, 5, 6, 0x02);
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(6, kA, kB, 16, FragOpts(160, 0x2000)), Head(tcp, 16)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 1111);
  EXPECT_EQ(m_.dst_port, 22);
  EXPECT_EQ(m_.tcp_seq, 0u);  // not all of the header is in this fragment
  EXPECT_EQ(m_.payload_bytes, 0u);
  EXPECT_EQ(m_.l3_bytes, 36u);
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(6, kA, kB, 16, FragOpts(160, 2)), Zeros(16)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 1111);
  EXPECT_EQ(dec_->counters().fragments_unmatched.Get(), 0u);
  // Two bytes of UDP: no ports to take.
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 2, FragOpts(161, 0x2000)), Zeros(2)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 0);
  // TCP options running into the next fragment: header taken as far as it goes.
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(6, kA, kB, 24, FragOpts(162, 0x2000)),
                        Head(Tcp(7, 8, 9, 10, 0x10, 10), 24)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.tcp_seq, 9u);
  EXPECT_EQ(m_.payload_bytes, 0u);
}

TEST_F(DecodeTest, Ipv6Fragments) {
  // First fragment: fragment header (M=1, offset 0) then UDP; 8 + 8 + 1000 payload.
  ASSERT_EQ(Run(kLinkEthernet,
                Cat({Eth(0x86dd), Ip6(44, 8 + 1008), Frag6(17, 0, true, 0xdeadbeef),
                     Udp(53, 1053, 3000)}),
                14 + 40 + 1016),
            DecodeResult::kOk);
  EXPECT_EQ(m_.flags, kMetaIpv6 | kMetaFragment);
  EXPECT_EQ(m_.payload_bytes, 1000u);
  EXPECT_EQ(m_.l3_bytes, 1056u);
  // Later fragment at offset 1008/8 = 126 units.
  ASSERT_EQ(
      RunEth(Cat({Eth(0x86dd), Ip6(44, 8 + 200), Frag6(17, 126, false, 0xdeadbeef), Zeros(200)})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.flags, kMetaIpv6 | kMetaFragment | kMetaLaterFragment);
  EXPECT_EQ(m_.src_port, 53);
  EXPECT_EQ(m_.dst_port, 1053);
  EXPECT_EQ(m_.proto, 17);
  EXPECT_EQ(m_.payload_bytes, 200u);
  EXPECT_EQ(m_.l3_bytes, 248u);
  // Fragmentable part starting with destination options: the later fragment is keyed on the
  // fragment header's next header (60) and gets TCP from the first.
  ASSERT_EQ(Run(kLinkEthernet,
                Cat({Eth(0x86dd), Ip6(44, 8 + 8 + 500), Frag6(60, 0, true, 5), Ext(6, 0),
                     Tcp(7, 8, 1, 1, 0x10)}),
                14 + 40 + 516),
            DecodeResult::kOk);
  EXPECT_EQ(m_.payload_bytes, 500u - 20);
  ASSERT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(44, 8 + 16), Frag6(60, 64, false, 5), Zeros(16)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.proto, 6);
  EXPECT_EQ(m_.src_port, 7);
  // Unmatched.
  ASSERT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(44, 8 + 16), Frag6(17, 64, false, 6), Zeros(16)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.src_port, 0);
  EXPECT_EQ(dec_->counters().fragments_unmatched.Get(), 1u);
  // Atomic fragment (offset 0, M=0): a whole datagram, not a fragment.
  ASSERT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(44, 16), Frag6(17, 0, false, 9), Udp(1, 2, 8)})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.flags, kMetaIpv6);
  EXPECT_EQ(m_.src_port, 1);
}

TEST_F(DecodeTest, FragmentTableIsSmallAndOverwrites) {
  opts_.fragment_table_entries = 1;  // rounded up to the minimum of 16
  Make();
  // 64 first fragments, then their later fragments: at most 16 can still be matched.
  for (std::uint16_t id = 0; id < 64; ++id) {
    const V4Opts o = FragOpts(id, 0x2000);
    ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8, o), Udp(id, 1, 16)})), DecodeResult::kOk);
  }
  int matched = 0;
  for (std::uint16_t id = 0; id < 64; ++id) {
    const V4Opts o = FragOpts(id, 1);
    ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8, o), Zeros(8)})), DecodeResult::kOk);
    if (m_.src_port != 0) {
      EXPECT_EQ(m_.src_port, id);  // never someone else's ports
      ++matched;
    }
  }
  EXPECT_LE(matched, 16);
  EXPECT_GE(matched, 1);
}

// ---- Tunnels --------------------------------------------------------------------------------

// The inner packet used in every tunnel test: kC:5000 -> kD:443 TCP with 100 bytes, l3 140.
Bytes InnerIp() {
  return Cat({Ip4(6, kC, kD, 120), Tcp(5000, 443, 11, 12, 0x18), Zeros(100)});
}
Bytes InnerIp6() {
  return Cat({Ip6(6, 120, 7, 8), Tcp(5000, 443, 11, 12, 0x18), Zeros(100)});
}

class TunnelTest : public DecodeTest {
 protected:
  // Decodes `f` in both modes; checks inner fields and outer fields.
  void ExpectBoth(const Bytes& f, std::uint32_t outer_l3, std::uint8_t outer_proto,
                  std::uint32_t inner_l3 = 140) {
    Make(TunnelMode::kInner);
    ASSERT_EQ(RunEth(f), DecodeResult::kOk);
    EXPECT_EQ(m_.l3_bytes, inner_l3);
    EXPECT_EQ(m_.proto, 6);
    EXPECT_EQ(m_.src_port, 5000);
    EXPECT_EQ(m_.dst_port, 443);
    EXPECT_EQ(m_.tcp_seq, 11u);
    EXPECT_EQ(m_.payload_bytes, 100u);
    EXPECT_NE(m_.flags & kMetaTunnelled, 0);
    EXPECT_EQ(m_.wire_bytes, f.size());
    Make(TunnelMode::kOuter);
    ASSERT_EQ(RunEth(f), DecodeResult::kOk);
    EXPECT_EQ(m_.l3_bytes, outer_l3);
    EXPECT_EQ(m_.proto, outer_proto);
    EXPECT_EQ(m_.src, IpAddress::V4(kA));
    EXPECT_EQ(m_.flags & kMetaTunnelled, 0);
  }
};

TEST_F(TunnelTest, GreVersion0) {
  // Plain GRE carrying IPv4: 20 + 4 + 140.
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 140), Bytes{0, 0, 0x08, 0x00}, InnerIp()}), 164,
             47);
  EXPECT_EQ(m_.src_port, 0);  // outer GRE: no ports
  // Checksum + key + sequence: 4 + 12 bytes of header.
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 16 + 140), Bytes{0xb0, 0, 0x08, 0x00}, Zeros(12),
                  InnerIp()}),
             176, 47);
  Make();
  ASSERT_EQ(
      RunEth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 160), Bytes{0, 0, 0x86, 0xdd}, InnerIp6()})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 160u);
  EXPECT_EQ(m_.flags, kMetaIpv6 | kMetaTunnelled);
  // Routing present (RFC 1701): unsupported.
  EXPECT_EQ(
      RunEth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 140), Bytes{0x40, 0, 0x08, 0x00}, InnerIp()})),
      DecodeResult::kUnsupportedTunnel);
  // Version 2: unsupported.
  EXPECT_EQ(
      RunEth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 140), Bytes{0, 2, 0x08, 0x00}, InnerIp()})),
      DecodeResult::kUnsupportedTunnel);
}

TEST_F(TunnelTest, GreEthernetErspanMpls) {
  // Transparent Ethernet bridging; the inner frame's VLAN 55 is not the outer network's.
  const Bytes inner_eth = Cat({Eth(0x8100), Tag(55, 0x0800), InnerIp()});  // 18 + 140
  ExpectBoth(Cat({Eth(0x8100), Tag(10, 0x0800), Ip4(47, kA, kB, 4 + 158), Bytes{0, 0, 0x65, 0x58},
                  inner_eth}),
             182, 47);
  EXPECT_EQ(m_.vlan, 10);
  Make();
  ASSERT_EQ(RunEth(Cat({Eth(0x8100), Tag(10, 0x0800), Ip4(47, kA, kB, 4 + 158),
                        Bytes{0, 0, 0x65, 0x58}, inner_eth})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 10);
  // ERSPAN type II: GRE with S, 8-byte ERSPAN header, Ethernet.
  const Bytes eth_ip = Cat({Eth(0x0800), InnerIp()});  // 154
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 8 + 8 + 154), Bytes{0x10, 0, 0x88, 0xbe}, Zeros(4),
                  Bytes{0x10, 0x01, 0, 0, 0, 0, 0, 0}, eth_ip}),
             190, 47);
  // ERSPAN type I: no sequence, no header.
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 154), Bytes{0, 0, 0x88, 0xbe}, eth_ip}), 178,
             47);
  // ERSPAN type III without and with the platform-specific subheader (O flag).
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 8 + 12 + 154), Bytes{0x10, 0, 0x22, 0xeb}, Zeros(4),
                  Bytes{0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00}, eth_ip}),
             194, 47);
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 8 + 20 + 154), Bytes{0x10, 0, 0x22, 0xeb}, Zeros(4),
                  Bytes{0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, Zeros(8), eth_ip}),
             202, 47);
  // MPLS over GRE.
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 4 + 140), Bytes{0, 0, 0x88, 0x47},
                  Label(1000, true), InnerIp()}),
             168, 47);
}

TEST_F(TunnelTest, GreVersion1Pptp) {
  // Enhanced GRE: K and S set, version 1, protocol 0x880B; key = payload length + call id.
  const Bytes ppp = Cat({Bytes{0xff, 0x03, 0x00, 0x21}, InnerIp()});  // 144
  Bytes gre = {0x30, 0x01, 0x88, 0x0b};
  Put16(gre, static_cast<std::uint16_t>(ppp.size()));
  Put16(gre, 0x0777);
  Put32(gre, 1);  // sequence
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 12 + 144), gre, ppp}), 176, 47);
  // Acknowledgement only (S clear, A set): the GRE packet itself is accounted.
  Bytes ack = {0x20, 0x81, 0x88, 0x0b, 0, 0, 0x07, 0x77};
  Put32(ack, 5);
  Make();
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(47, kA, kB, 12), ack})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 32u);
  EXPECT_EQ(m_.proto, 47);
  EXPECT_EQ(m_.flags & kMetaTunnelled, 0);
  // Encrypted PPP (MPPE, 0x00FD): the GRE packet itself.
  const Bytes mppe = Cat({Bytes{0xff, 0x03, 0x00, 0xfd}, Zeros(50)});
  Bytes gre2 = {0x30, 0x01, 0x88, 0x0b};
  Put16(gre2, static_cast<std::uint16_t>(mppe.size()));
  Put16(gre2, 0x0777);
  Put32(gre2, 2);
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(47, kA, kB, 12 + 54), gre2, mppe})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 86u);
  EXPECT_EQ(m_.proto, 47);
}

TEST_F(TunnelTest, IpInIp) {
  ExpectBoth(Cat({Eth(0x0800), Ip4(4, kA, kB, 140), InnerIp()}), 160, 4);
  Make();
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(41, kA, kB, 160), InnerIp6()})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 160u);
  EXPECT_EQ(m_.src_port, 5000);
  // IPv6 over IPv6 (next header 41).
  ASSERT_EQ(RunEth(Cat({Eth(0x86dd), Ip6(41, 160), InnerIp6()})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 160u);
  EXPECT_EQ(m_.src, IpAddress::V6Bytes(V6Addr(7).data()));
  // Protocol 4 carrying IPv6: wrong version.
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(4, kA, kB, 160), InnerIp6()})),
            DecodeResult::kBadIpv4Version);
  // Inner header cut by the snaplen.
  EXPECT_EQ(Run(kLinkEthernet, Cat({Eth(0x0800), Ip4(4, kA, kB, 140), InnerIp()}), 0, 14 + 20 + 10),
            DecodeResult::kTruncatedTunnel);
  // Inner packet claims more than the carrier holds.
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(4, kA, kB, 140), Ip4(6, kC, kD, 121),
                        Tcp(5000, 443, 11, 12, 0x18), Zeros(101)})),
            DecodeResult::kIpLengthExceedsFrame);
}

TEST_F(TunnelTest, Vxlan) {
  const Bytes vx = {0x08, 0, 0, 0, 0, 0x01, 0x23, 0};                  // I flag, VNI 0x123
  const Bytes inner = Cat({Eth(0x8100), Tag(77, 0x0800), InnerIp()});  // 158
  ExpectBoth(Cat({Eth(0x8100), Tag(20, 0x0800), Ip4(17, kA, kB, 8 + 8 + 158), Udp(49152, 4789, 174),
                  vx, inner}),
             194, 17);
  EXPECT_EQ(m_.dst_port, 4789);
  EXPECT_EQ(m_.payload_bytes, 166u);
  EXPECT_EQ(m_.vlan, 20);
  Make();
  ASSERT_EQ(RunEth(Cat({Eth(0x8100), Tag(20, 0x0800), Ip4(17, kA, kB, 8 + 8 + 158),
                        Udp(49152, 4789, 174), vx, inner})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.vlan, 20);  // the outermost Ethernet's, not the inner 77
  // VXLAN header cut.
  EXPECT_EQ(Run(kLinkEthernet,
                Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 158), Udp(1, 4789, 174), vx, inner}), 0,
                14 + 28 + 4),
            DecodeResult::kTruncatedTunnel);
  // Inner ARP: nothing to account in inner mode.
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 42), Udp(1, 4789, 58), vx, Eth(0x0806),
                        Zeros(28)})),
            DecodeResult::kNonIp);
  // UDP to 4789 in a first fragment is never decapsulated.
  const V4Opts frag = FragOpts(3, 0x2000);
  ASSERT_EQ(
      RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 158, frag), Udp(1, 4789, 500), vx, inner})),
      DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 194u);
  EXPECT_EQ(m_.flags, kMetaFragment);
}

TEST_F(TunnelTest, Geneve) {
  // 8 bytes + 8 bytes of options (length 2), protocol 0x6558.
  const Bytes gen = Cat({Bytes{0x02, 0, 0x65, 0x58, 0, 0, 0x10, 0}, Zeros(8)});
  const Bytes eth_ip = Cat({Eth(0x0800), InnerIp()});  // 154
  ExpectBoth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 16 + 154), Udp(1, 6081, 178), gen, eth_ip}), 198,
             17);
  // Protocol type IPv4 directly, no options.
  ExpectBoth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 140), Udp(1, 6081, 156),
                  Bytes{0, 0, 0x08, 0x00, 0, 0, 1, 0}, InnerIp()}),
             176, 17);
  Make();
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 140), Udp(1, 6081, 156),
                        Bytes{0x40, 0, 0x08, 0x00, 0, 0, 1, 0}, InnerIp()})),
            DecodeResult::kUnsupportedTunnel);  // version 1
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 140), Udp(1, 6081, 156),
                        Bytes{0, 0, 0x12, 0x34, 0, 0, 1, 0}, InnerIp()})),
            DecodeResult::kUnsupportedTunnel);
}

TEST_F(TunnelTest, GtpU) {
  // G-PDU, no optional fields: 8-byte header.
  Bytes gtp = {0x30, 0xff, 0, 140, 0, 0, 0, 1};
  ExpectBoth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 140), Udp(2152, 2152, 156), gtp, InnerIp()}),
             176, 17);
  // S flag: 4 more bytes (sequence, N-PDU, next extension 0).
  Bytes gtp_s = {0x32, 0xff, 0, 144, 0, 0, 0, 1, 0, 7, 0, 0};
  ExpectBoth(
      Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 12 + 140), Udp(2152, 2152, 160), gtp_s, InnerIp()}),
      180, 17);
  // E flag with a PDU session container (0x85) of 4 bytes, then no more.
  Bytes gtp_e = {0x34, 0xff, 0, 148, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0x00};
  ExpectBoth(
      Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 16 + 140), Udp(2152, 2152, 164), gtp_e, InnerIp()}),
      184, 17);
  // Echo request (type 1): the UDP packet itself is accounted, even in inner mode.
  Make();
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 12), Udp(2152, 2152, 20),
                        Bytes{0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0}})),
            DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 40u);
  EXPECT_EQ(m_.dst_port, 2152);
  EXPECT_EQ(m_.flags & kMetaTunnelled, 0);
  // Extension header with length 0 is malformed.
  Bytes bad_e = {0x34, 0xff, 0, 148, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0x10, 0x09, 0x00};
  EXPECT_EQ(RunEth(Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 16 + 140), Udp(2152, 2152, 164), bad_e,
                        InnerIp()})),
            DecodeResult::kUnsupportedTunnel);
  // Inner IP header cut by the snaplen.
  EXPECT_EQ(
      Run(kLinkEthernet,
          Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 8 + 140), Udp(2152, 2152, 156), gtp, InnerIp()}), 0,
          14 + 20 + 8 + 8 + 12),
      DecodeResult::kTruncatedTunnel);
}

TEST_F(TunnelTest, NestedGreWithinGre) {
  const Bytes inner_gre =
      Cat({Ip4(47, kB, kA, 4 + 140), Bytes{0, 0, 0x08, 0x00}, InnerIp()});  // 164
  ExpectBoth(Cat({Eth(0x0800), Ip4(47, kA, kB, 4 + 164), Bytes{0, 0, 0x08, 0x00}, inner_gre}), 188,
             47);
  // Four levels is the limit and still decodes.
  Bytes inner = InnerIp();
  for (int i = 0; i < 3; ++i) inner = Cat({Ip4(4, kA, kB, inner.size()), inner});
  Make();
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(4, kA, kB, inner.size()), inner})), DecodeResult::kOk);
  EXPECT_EQ(m_.l3_bytes, 140u);
}

// ---- Direction and tenant -------------------------------------------------------------------

TEST_F(DecodeTest, DirectionAndTenantFromTheSite) {
  SiteOptions so;
  so.inside.push_back(*Prefix::Parse("10.0.0.0/8"));
  so.tenants.push_back(TenantOptions{"research", {*Prefix::Parse("10.30.0.0/16")}});
  const SiteClassifier site(so);
  Make(TunnelMode::kInner, &site);
  const auto frame = [](std::uint32_t s, std::uint32_t d) {
    return Cat({Eth(0x0800), Ip4(17, s, d, 8), Udp(1, 2, 8)});
  };
  ASSERT_EQ(RunEth(frame(kC, kD)), DecodeResult::kOk);
  EXPECT_EQ(m_.direction, Direction::kOutbound);
  EXPECT_EQ(m_.tenant, 1);
  ASSERT_EQ(RunEth(frame(kD, kC)), DecodeResult::kOk);
  EXPECT_EQ(m_.direction, Direction::kInbound);
  EXPECT_EQ(m_.tenant, 1);
  ASSERT_EQ(RunEth(frame(kA, kC)), DecodeResult::kOk);
  EXPECT_EQ(m_.direction, Direction::kInternal);
  ASSERT_EQ(RunEth(frame(kB, kD)), DecodeResult::kOk);
  EXPECT_EQ(m_.direction, Direction::kTransit);
  EXPECT_EQ(m_.tenant, 0);
  // Tunnelled: the inner addresses decide (outer kB -> kD is transit, inner kC -> kD outbound).
  ASSERT_EQ(RunEth(Cat({Eth(0x0800), Ip4(4, kB, kD, 140), InnerIp()})), DecodeResult::kOk);
  EXPECT_EQ(m_.direction, Direction::kOutbound);
  const DecodeCounters& c = dec_->counters();
  EXPECT_EQ(c.direction_packets[static_cast<int>(Direction::kOutbound)].Get(), 2u);
  EXPECT_EQ(c.direction_l3_bytes[static_cast<int>(Direction::kOutbound)].Get(), 28u + 140);
  EXPECT_EQ(c.direction_packets[static_cast<int>(Direction::kInbound)].Get(), 1u);
  EXPECT_EQ(c.direction_packets[static_cast<int>(Direction::kInternal)].Get(), 1u);
  EXPECT_EQ(c.direction_packets[static_cast<int>(Direction::kTransit)].Get(), 1u);
}

TEST_F(DecodeTest, CountersAddUp) {
  RunEth(TcpFrame(10));                                  // ok, l3 50, wire 64
  RunEth(Cat({Eth(0x86dd), Ip6(17, 8), Udp(1, 2, 8)}));  // ok, l3 48, wire 62
  RunEth(Cat({Eth(0x0806), Zeros(28)}));                 // non_ip, wire 42
  Run(kLinkEthernet, Zeros(5), 60);                      // truncated_link, wire 60
  const DecodeCounters& c = dec_->counters();
  EXPECT_EQ(c.frames.Get(), 4u);
  EXPECT_EQ(c.wire_bytes.Get(), 64u + 62 + 42 + 60);
  EXPECT_EQ(c.ip_packets.Get(), 2u);
  EXPECT_EQ(c.ipv4_packets.Get(), 1u);
  EXPECT_EQ(c.ipv6_packets.Get(), 1u);
  EXPECT_EQ(c.l3_bytes.Get(), 98u);
  EXPECT_EQ(c.by_reason[0].Get(), 2u);
  EXPECT_EQ(c.by_reason[static_cast<int>(DecodeResult::kNonIp)].Get(), 1u);
  EXPECT_EQ(c.by_reason[static_cast<int>(DecodeResult::kTruncatedLink)].Get(), 1u);
}

// ---- Robustness -----------------------------------------------------------------------------

// Every prefix of valid frames, and random garbage on every link type, must decode to some
// outcome without reading out of bounds (run under ASan/UBSan in the sanitizer build). Each
// prefix is copied into its own exact-size buffer so that ASan sees any overread.
TEST_F(DecodeTest, PrefixesAndGarbageNeverCrash) {
  std::vector<Bytes> frames;
  for (const ReasonCase& rc : ReasonCases()) frames.push_back(rc.frame);
  Bytes hbh = {6, 0, 0xC2, 4};
  Put32(hbh, 80040);
  frames.push_back(Cat({Eth(0x86dd), Ip6(0, 0), hbh, Tcp(1, 2, 3, 4, 0x10)}));
  frames.push_back(
      Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 16 + 148), Udp(2152, 2152, 164),
           Bytes{0x34, 0xff, 0, 148, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0x00}, InnerIp()}));
  frames.push_back(
      Cat({Eth(0x0800), Ip4(47, kA, kB, 8 + 20 + 154), Bytes{0x10, 0, 0x22, 0xeb}, Zeros(4),
           Bytes{0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, Zeros(8), Eth(0x0800), InnerIp()}));
  frames.push_back(
      Cat({Eth(0x0800), Ip4(17, kA, kB, 8 + 16 + 154), Udp(1, 6081, 178),
           Bytes{0x02, 0, 0x65, 0x58, 0, 0, 0x10, 0}, Zeros(8), Eth(0x0800), InnerIp()}));
  frames.push_back(
      Cat({Eth(0x86dd), Ip6(44, 8 + 1008), Frag6(17, 0, true, 1), Udp(53, 1053, 3000)}));
  const int links[] = {kLinkEthernet, kLinkLinuxSll, kLinkLinuxSll2, kLinkRaw,  kLinkNull,
                       kLinkLoop,     kLinkPpp,      kLinkIpv4,      kLinkIpv6, 253};
  std::uint64_t decoded = 0;
  for (const Bytes& f : frames) {
    for (std::size_t len = 0; len <= f.size(); ++len) {
      const auto buf = std::make_unique<std::uint8_t[]>(len == 0 ? 1 : len);
      std::copy(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(len), buf.get());
      for (int link : links) {
        dec_->Decode(link, buf.get(), static_cast<std::uint32_t>(len),
                     static_cast<std::uint32_t>(f.size()), StreamTime{}, &m_);
        ++decoded;
      }
    }
  }
  std::mt19937 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    const std::size_t len = rng() % 200;
    const auto buf = std::make_unique<std::uint8_t[]>(len == 0 ? 1 : len);
    for (std::size_t j = 0; j < len; ++j) buf[j] = static_cast<std::uint8_t>(rng());
    // Half the time, plant a plausible header so that the deeper layers are reached.
    if (len >= 34 && (i & 1) != 0) {
      buf[12] = 0x08;
      buf[13] = 0x00;
      buf[14] = static_cast<std::uint8_t>(0x45 + (rng() % 3));
    }
    const std::uint32_t wire = static_cast<std::uint32_t>(len + rng() % 3000);
    const DecodeResult r =
        dec_->Decode(links[static_cast<std::size_t>(i) % std::size(links)], buf.get(),
                     static_cast<std::uint32_t>(len), wire, StreamTime{}, &m_);
    ASSERT_LT(static_cast<std::size_t>(r), kDecodeResultCount);
    if (r == DecodeResult::kOk) {
      ASSERT_LE(m_.l3_bytes, wire);
    }
    ++decoded;
  }
  EXPECT_EQ(dec_->counters().frames.Get(), decoded);
}

// ---- Real captures --------------------------------------------------------------------------

// Outcome counts of one capture file, decoded frame by frame.
std::map<std::string, std::uint64_t> DecodeFile(const std::string& path, std::uint64_t* l3) {
  std::map<std::string, std::uint64_t> out;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (p == nullptr) return out;
  Decoder d(DecodeOptions{}, nullptr);
  pcap_pkthdr* h;
  const u_char* data;
  PacketMeta m;
  for (int i = 0; i < 1'000'000 && pcap_next_ex(p, &h, &data) == 1; ++i) {
    const DecodeResult r = d.Decode(pcap_datalink(p), data, h->caplen, h->len, StreamTime{}, &m);
    ++out[std::string(ReasonName(r))];
  }
  pcap_close(p);
  *l3 = d.counters().l3_bytes.Get();
  return out;
}

TEST(DecodePcaps, KnownCapturesGiveTheExpectedReasons) {
  const std::string dir = WB_SHARED_PCAPS;
  if (!std::filesystem::exists(dir + "/MANIFEST.tsv")) {
    GTEST_SKIP() << "shared captures not found at " << dir;
  }
  std::uint64_t l3 = 0;
  // NETLINK (253): 13 frames, none IP (MANIFEST.tsv).
  auto r = DecodeFile(dir + "/pcpp_microsecs_big_endian.pcap", &l3);
  EXPECT_EQ(r["unsupported_link_type"], 13u);
  EXPECT_EQ(r.size(), 1u);
  // One IPv4 packet with a broken header.
  r = DecodeFile(dir + "/zeek_ipv4-truncated-broken-header.pcap", &l3);
  EXPECT_EQ(r["truncated_ipv4"], 1u);
  // One IPv6 packet whose extension header chain is cut.
  r = DecodeFile(dir + "/zeek_ip6-ext-trunc.pcap", &l3);
  EXPECT_EQ(r["truncated_ipv6_ext_header"], 1u);
  // BIG TCP: one 80094-byte frame, 80080 bytes of IPv6 (wire length - 14).
  r = DecodeFile(dir + "/tcpdump_bigtcp-ipv6-hbh.pcap", &l3);
  EXPECT_EQ(r["ok"], 1u);
  EXPECT_EQ(l3, 80080u);
  // Raw IP (100 packets, libpcap reports DLT_RAW 12) and DLT 182.
  r = DecodeFile(dir + "/pcpp_raw_ip.pcap", &l3);
  EXPECT_EQ(r["ok"], 100u);
  r = DecodeFile(dir + "/tcpdump_kday6.pcap", &l3);
  EXPECT_EQ(r["unsupported_link_type"], 1u);
  // Snaplen 96: every one of the 878 frames is still accounted.
  r = DecodeFile(dir + "/zeek_tcp-timestamp_snap96.pcap", &l3);
  EXPECT_EQ(r["ok"], 878u);
}

}  // namespace
}  // namespace weighbridge::capture
