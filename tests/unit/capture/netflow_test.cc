// NetFlow v9 (RFC 3954) and v5 parser tests. Datagrams are built here field by field from the
// RFC's and Cisco's published layouts, independently of the parser.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "weighbridge/capture/ipfix.h"

namespace weighbridge::capture {
namespace {

constexpr std::int64_t kMs = 1'000'000;

struct W {
  std::vector<std::uint8_t> b;
  W& U8(std::uint8_t v) {
    b.push_back(v);
    return *this;
  }
  W& U16(std::uint16_t v) {
    return U8(static_cast<std::uint8_t>(v >> 8)).U8(static_cast<std::uint8_t>(v));
  }
  W& U32(std::uint32_t v) {
    return U16(static_cast<std::uint16_t>(v >> 16)).U16(static_cast<std::uint16_t>(v));
  }
  W& Append(const W& o) {
    b.insert(b.end(), o.b.begin(), o.b.end());
    return *this;
  }
};

W FlowSet(std::uint16_t id, const W& body) {
  W s;
  s.U16(id).U16(static_cast<std::uint16_t>(body.b.size() + 4)).Append(body);
  return s;
}

// v9 header: version, count, sys_uptime, unix_secs, sequence, source_id.
W V9(std::uint32_t uptime_ms, std::uint32_t unix_secs, std::uint32_t source_id,
     const std::vector<W>& sets) {
  W m;
  m.U16(9)
      .U16(static_cast<std::uint16_t>(sets.size()))
      .U32(uptime_ms)
      .U32(unix_secs)
      .U32(1)
      .U32(source_id);
  for (const W& s : sets) m.Append(s);
  return m;
}

class NetflowTest : public ::testing::Test {
 protected:
  void Parse(const W& m) {
    parser_.Parse(exporter_, m.b.data(), m.b.size(), StreamTime::FromNanos(1), &out_);
  }
  IpAddress exporter_ = IpAddress::V4(0x7F000001);
  FlowProtocolCounters counters_;
  FlowRecordParser parser_{FlowParserOptions{}, &counters_};
  std::vector<FlowRecord> out_;
};

TEST_F(NetflowTest, V9TemplateDataAndUptimeRelativeTimes) {
  W tmpl;  // template 260: src, dst, first, last, bytes, pkts, sport, dport, proto, flags
  tmpl.U16(260).U16(10);
  for (auto [id, len] : std::vector<std::pair<int, int>>{
           {8, 4}, {12, 4}, {22, 4}, {21, 4}, {1, 4}, {2, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}}) {
    tmpl.U16(static_cast<std::uint16_t>(id)).U16(static_cast<std::uint16_t>(len));
  }
  W rec;
  // Exporter uptime at export 100000 ms; the flow ran from uptime 40000 to 95000 ms.
  rec.U32(0x0A000005).U32(0xC6336401).U32(40'000).U32(95'000).U32(1'234'567).U32(900);
  rec.U16(22).U16(61000).U8(6).U8(0x12);
  rec.U16(0);  // padding to a 4-byte boundary, shorter than a record
  Parse(V9(100'000, 1'767'225'600, 42, {FlowSet(0, tmpl), FlowSet(260, rec)}));
  ASSERT_EQ(out_.size(), 1u);
  const FlowRecord& f = out_[0];
  EXPECT_EQ(f.format, FlowRecordFormat::kNetflowV9);
  EXPECT_EQ(f.src, IpAddress::V4(0x0A000005));
  EXPECT_EQ(f.l3_bytes, 1'234'567u);
  EXPECT_EQ(f.packets, 900u);
  EXPECT_EQ(f.src_port, 22);
  EXPECT_EQ(f.tcp_flags, 0x12);
  EXPECT_EQ(f.observation_domain, 42u);
  EXPECT_EQ(f.start.ns, 1'767'225'600'000 * kMs - 60'000 * kMs);
  EXPECT_EQ(f.end.ns, 1'767'225'600'000 * kMs - 5'000 * kMs);
}

TEST_F(NetflowTest, V9UptimeWrapsAround) {
  W tmpl;
  tmpl.U16(261).U16(3).U16(8).U16(4).U16(12).U16(4).U16(22).U16(4);
  W rec;
  rec.U32(1).U32(2).U32(0xFFFFFC18u);  // 1000 ms before the uptime counter wrapped
  Parse(V9(500, 1'000'000, 1, {FlowSet(0, tmpl), FlowSet(261, rec)}));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].start.ns, 1'000'000'000 * kMs - 1500 * kMs);
}

TEST_F(NetflowTest, V9OptionsSamplerAppliesToRecordsThatNameIt) {
  W opt;  // options template 270: scope System(1) 4 bytes; FLOW_SAMPLER_ID(48) 1,
          // FLOW_SAMPLER_MODE(49) 1, FLOW_SAMPLER_RANDOM_INTERVAL(50) 4
  opt.U16(270).U16(4).U16(12).U16(1).U16(4).U16(48).U16(1).U16(49).U16(1).U16(50).U16(4);
  W opt_rec;
  opt_rec.U32(0).U8(3).U8(2).U32(1000);
  W tmpl;
  tmpl.U16(271).U16(4).U16(8).U16(4).U16(12).U16(4).U16(1).U16(4).U16(48).U16(1);
  W rec;
  rec.U32(1).U32(2).U32(1500).U8(3);
  W rec_other;
  rec_other.U32(1).U32(2).U32(1500).U8(4);  // unknown sampler, no default: 1
  Parse(V9(1, 1, 1,
           {FlowSet(1, opt), FlowSet(270, opt_rec), FlowSet(0, tmpl),
            FlowSet(271, rec.Append(rec_other))}));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].sampling_interval, 1000u);
  EXPECT_EQ(out_[0].ScaledL3Bytes(), 1'500'000u);
  EXPECT_EQ(out_[1].sampling_interval, 1u);
}

W V5(std::uint16_t count, std::uint16_t sampling, const std::vector<W>& records) {
  W m;
  m.U16(5).U16(count).U32(10'000 /* uptime */).U32(1'767'225'600).U32(250'000'000);
  m.U32(77).U8(1).U8(2).U16(sampling);
  for (const W& r : records) m.Append(r);
  return m;
}

W V5Record(std::uint32_t src, std::uint32_t dst, std::uint32_t pkts, std::uint32_t octets,
           std::uint32_t first, std::uint32_t last, std::uint16_t sp, std::uint16_t dp,
           std::uint8_t flags, std::uint8_t proto) {
  W r;
  r.U32(src).U32(dst).U32(0 /* nexthop */).U16(1).U16(2).U32(pkts).U32(octets).U32(first).U32(last);
  r.U16(sp).U16(dp).U8(0).U8(flags).U8(proto).U8(0).U16(0).U16(0).U8(24).U8(24).U16(0);
  return r;
}

TEST_F(NetflowTest, V5RecordsWithSamplingAndTimes) {
  Parse(V5(2, (1 << 14) | 64,
           {V5Record(0x0A000001, 0x08080808, 3, 180, 9'000, 9'500, 5353, 53, 0, 17),
            V5Record(0x0A000002, 0x01010101, 10, 14'600, 8'000, 10'000, 40000, 443, 0x1b, 6)}));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].format, FlowRecordFormat::kNetflowV5);
  EXPECT_EQ(out_[0].dst_port, 53);
  EXPECT_EQ(out_[0].proto, 17);
  EXPECT_EQ(out_[0].l3_bytes, 180u);
  EXPECT_EQ(out_[0].sampling_interval, 64u);
  EXPECT_EQ(out_[0].observation_domain, 0x0102u);
  const std::int64_t export_ns = 1'767'225'600'250'000'000;
  EXPECT_EQ(out_[0].start.ns, export_ns - 1'000 * kMs);
  EXPECT_EQ(out_[0].end.ns, export_ns - 500 * kMs);
  EXPECT_EQ(out_[1].tcp_flags, 0x1b);
  EXPECT_EQ(out_[1].packets, 10u);
  EXPECT_EQ(out_[1].end.ns, export_ns);
}

TEST_F(NetflowTest, V5IcmpTypeCodeIsNotAPort) {
  // v5 exporters put ICMP type << 8 | code (echo request: 0x0800) in the destination port.
  Parse(V5(1, 0, {V5Record(0x0A000001, 0x08080808, 1, 84, 1, 1, 0, 0x0800, 0, 1)}));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].src_port, 0);
  EXPECT_EQ(out_[0].dst_port, 0);
}

TEST_F(NetflowTest, V5CountThatDoesNotFitIsBadLength) {
  Parse(V5(3, 0, {V5Record(1, 2, 3, 4, 5, 6, 7, 8, 0, 6)}));
  Parse(V5(31, 0, {}));
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kBadLength), 2u);
  W tiny;
  tiny.U16(5).U16(0);
  Parse(tiny);
  EXPECT_EQ(counters_.Dropped(FlowDropReason::kTruncatedDatagram), 1u);
  EXPECT_TRUE(out_.empty());
}

TEST_F(NetflowTest, EveryTruncationOfV9IsSafe) {
  W tmpl;
  tmpl.U16(262).U16(2).U16(8).U16(4).U16(12).U16(4);
  W rec;
  rec.U32(1).U32(2);
  const W m = V9(1, 1, 1, {FlowSet(0, tmpl), FlowSet(262, rec)});
  for (std::size_t n = 0; n <= m.b.size(); ++n) {
    parser_.Parse(exporter_, m.b.data(), n, StreamTime::FromNanos(1), &out_);
  }
  // v9 has no message length: every prefix that holds the whole data flowset decodes it.
  EXPECT_EQ(out_.size(), 1u);
  EXPECT_GT(counters_.Dropped(FlowDropReason::kTruncatedSet), 0u);
}

}  // namespace
}  // namespace weighbridge::capture
