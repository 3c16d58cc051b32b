#include "flowproto_wiring.h"

#include <gtest/gtest.h>

#include <cmath>

namespace weighbridge::app {
namespace {

capture::FlowRecord Record(std::uint8_t proto, std::uint64_t packets, std::uint64_t l3_bytes,
                           std::uint32_t interval) {
  capture::FlowRecord r;
  r.src = *IpAddress::Parse("198.51.100.7");
  r.dst = *IpAddress::Parse("10.1.2.3");
  r.src_port = 443;
  r.dst_port = 50123;
  r.proto = proto;
  r.packets = packets;
  r.l3_bytes = l3_bytes;
  r.sampling_interval = interval;
  r.start = StreamTime{1'767'225'600'000'000'000};
  r.end = StreamTime{1'767'225'660'000'000'000};
  r.exporter = *IpAddress::Parse("192.0.2.1");
  return r;
}

capture::SiteClassifier Site() {
  capture::SiteOptions o;
  o.inside = {*Prefix::Parse("10.0.0.0/8")};
  return capture::SiteClassifier(o);
}

TEST(FlowprotoWiring, PayloadIsTheBytesLessTheSmallestHeaders) {
  // 10 TCP packets of 1500 bytes over IPv4: 40 bytes of headers each.
  EXPECT_EQ(EstimatePayloadBytes(Record(6, 10, 15'000, 1)), 14'600u);
  EXPECT_EQ(EstimatePayloadBytes(Record(17, 10, 15'000, 1)), 14'720u);  // UDP: 28 each
  EXPECT_EQ(EstimatePayloadBytes(Record(1, 10, 15'000, 1)), 0u);        // ICMP: none
  EXPECT_EQ(EstimatePayloadBytes(Record(6, 10, 300, 1)), 0u);           // never below 0
}

TEST(FlowprotoWiring, UnsampledRecordsAreExact) {
  const capture::SiteClassifier site = Site();
  const analytics::FlowUpdate u = ToFlowUpdate(Record(6, 10, 15'000, 1), site);
  EXPECT_EQ(u.a_to_b.packets, 10u);
  EXPECT_EQ(u.a_to_b.l3_bytes, 15'000u);
  EXPECT_EQ(u.a_to_b.payload_bytes, 14'600u);
  EXPECT_FALSE(u.a_to_b.sampling.sampled());
  EXPECT_EQ(u.b_to_a, analytics::DirectionCounters{});
  EXPECT_EQ(u.direction, capture::Direction::kInbound);
  EXPECT_EQ(u.at, u.last);
}

// A record sampled 1 in N stands for N times its counts, and carries the error of that estimate:
// its packets are the samples, and each is taken at the record's mean payload b, so the variance
// is packets x N (N - 1) b^2.
TEST(FlowprotoWiring, SampledRecordsAreScaledAndStateTheirError) {
  const capture::SiteClassifier site = Site();
  const analytics::FlowUpdate u = ToFlowUpdate(Record(6, 10, 15'000, 1000), site);
  EXPECT_EQ(u.a_to_b.packets, 10'000u);
  EXPECT_EQ(u.a_to_b.l3_bytes, 15'000'000u);
  EXPECT_EQ(u.a_to_b.payload_bytes, 14'600'000u);
  EXPECT_EQ(u.a_to_b.sampling.samples, 10u);
  const double b = 1460.0;
  EXPECT_DOUBLE_EQ(u.a_to_b.sampling.payload_variance, 10 * 1000.0 * 999.0 * b * b);
  // The relative error of ten samples: about 1 / sqrt(10).
  EXPECT_NEAR(u.a_to_b.sampling.PayloadStddev() / static_cast<double>(u.a_to_b.payload_bytes),
              std::sqrt(999.0 / 1000.0 / 10.0), 1e-12);
}

TEST(FlowprotoWiring, FlowIdsDependOnTheExporterAndTheStart) {
  const capture::SiteClassifier site = Site();
  capture::FlowRecord r = Record(6, 10, 15'000, 1);
  const std::uint64_t id = ToFlowUpdate(r, site).flow_id;
  EXPECT_EQ(ToFlowUpdate(r, site).flow_id, id);  // stable
  r.exporter = *IpAddress::Parse("192.0.2.2");   // the same flow seen by another router
  EXPECT_NE(ToFlowUpdate(r, site).flow_id, id);
  r = Record(6, 10, 15'000, 1);
  r.start.ns += 1;
  EXPECT_NE(ToFlowUpdate(r, site).flow_id, id);
}

}  // namespace
}  // namespace weighbridge::app
