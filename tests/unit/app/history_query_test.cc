#include "history_query.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace weighbridge::app {
namespace {

constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z (date -d)
constexpr std::int64_t kMinute = 60 * kNanosPerSecond;
constexpr std::int64_t kHour = 60 * kMinute;

TEST(HistoryTime, ParsesRfc3339) {
  std::int64_t ns = 0;
  ASSERT_EQ(ParseRfc3339("2026-01-01T00:00:00Z", &ns), "");
  EXPECT_EQ(ns, kT0);
  // `date -u -d 2024-02-29T23:59:59.5+02:00 +%s.%N` = 1709243999.500000000
  ASSERT_EQ(ParseRfc3339("2024-02-29T23:59:59.5+02:00", &ns), "");
  EXPECT_EQ(ns, 1'709'243'999'500'000'000);
  ASSERT_EQ(ParseRfc3339("1969-12-31 23:59:59z", &ns), "");
  EXPECT_EQ(ns, -kNanosPerSecond);
  ASSERT_EQ(ParseRfc3339("2026-01-01T00:00:00.000001234Z", &ns), "");
  EXPECT_EQ(ns, kT0 + 1234);
  for (const char* bad : {"2026-01-01", "2026-01-01T00:00:00", "2025-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00+0200", "2026-01-01T00:00:00Zjunk", "yesterday"}) {
    EXPECT_NE(ParseRfc3339(bad, &ns), "") << bad;
  }
}

TEST(HistoryTime, DurationsCountBackFromTheNewestRecord) {
  std::int64_t ns = 0;
  ASSERT_EQ(ParseTimeBound("2h", kT0, &ns), "");
  EXPECT_EQ(ns, kT0 - 2 * kHour);
  ASSERT_EQ(ParseTimeBound("2026-01-01T00:00:00Z", 0, &ns), "");
  EXPECT_EQ(ns, kT0);
  EXPECT_NE(ParseTimeBound("2", kT0, &ns), "");  // no unit
  EXPECT_NE(ParseTimeBound("2 hours", kT0, &ns), "");
}

TEST(HistoryTime, PrefixOverlap) {
  const Prefix p16 = *Prefix::Parse("10.1.0.0/16");
  EXPECT_TRUE(PrefixesOverlap(p16, *Prefix::Parse("10.1.2.0/24")));
  EXPECT_TRUE(PrefixesOverlap(*Prefix::Parse("10.1.2.0/24"), p16));
  EXPECT_FALSE(PrefixesOverlap(p16, *Prefix::Parse("10.2.0.0/24")));
  EXPECT_FALSE(PrefixesOverlap(*Prefix::Parse("::/0"), p16));  // families never overlap
}

class HistoryQueries : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (std::filesystem::temp_directory_path() / "wb-hq-XXXXXX").string();
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    dir_ = t;
    options_.path = dir_ + "/db";
    options_.tenant_names = {"research"};
    auto h = store::History::Open(options_);
    ASSERT_TRUE(h.ok()) << h.error();
    history_ = std::move(*h);
  }
  void TearDown() override {
    history_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // An outbound flow from 10.0.0.<host> to 198.51.<group>.9, one update at `at`.
  static analytics::FlowUpdate Flow(std::uint64_t id, std::uint32_t host, std::uint32_t group,
                                    std::int64_t at, std::uint64_t bytes) {
    analytics::FlowUpdate u;
    u.key.a = IpAddress::V4(0x0a000000U + host);
    u.key.b = IpAddress::V4(0xc6330009U + (group << 8));
    u.key.a_port = 5000;
    u.key.b_port = 443;
    u.key.proto = 6;
    u.flow_id = id;
    u.first = StreamTime{at - kNanosPerSecond};
    u.last = StreamTime{at};
    u.at = StreamTime{at};
    u.a_to_b = {1, bytes, bytes};
    u.direction = capture::Direction::kOutbound;
    u.tenant = host == 1 ? 1 : 0;
    u.reason = analytics::FlowEndReason::kIdle;
    return u;
  }
  std::string dir_;
  store::HistoryOptions options_;
  std::unique_ptr<store::History> history_;
};

TEST_F(HistoryQueries, TopTalkersPerWindowFromHourAndMinuteRows) {
  {
    store::HistoryWriter w(*history_, options_);
    // Host 1 sends 100 per minute for 3 hours; host 2 sends 250 once in hour 2; host 3 a little.
    std::uint64_t id = 1;
    for (std::int64_t m = 0; m < 180; ++m) {
      w.OnFlowUpdate(Flow(id++, 1, 1, kT0 + m * kMinute + 30 * kNanosPerSecond, 100));
    }
    w.OnFlowUpdate(Flow(id++, 2, 2, kT0 + 90 * kMinute + 30 * kNanosPerSecond, 250));
    w.OnFlowUpdate(Flow(id++, 3, 2, kT0 + 150 * kMinute + 30 * kNanosPerSecond, 7));
    ASSERT_TRUE(w.Flush().ok());
  }
  // The whole range at once: hour rows for whole hours, minute rows at the ragged edges.
  HistoryFilter f;
  f.range = {kT0 + 30 * kMinute, kT0 + 150 * kMinute + 10 * kNanosPerSecond};
  std::vector<RollupRow> rows;
  ASSERT_TRUE(
      QueryRollups(*history_, f, store::RollupEntity::kInsideHost, 0, {"research"}, &rows).ok());
  std::vector<RollupRow> top = TopPerBucket(rows, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].subject.network.ToString(), "10.0.0.1");
  // Minutes 30..150: rows count by the start of their minute, and minute 150 starts in range.
  EXPECT_EQ(top[0].counters.out_bytes, 121u * 100);
  EXPECT_EQ(top[0].tenant, 1);
  EXPECT_EQ(top[1].subject.network.ToString(), "10.0.0.2");
  EXPECT_EQ(top[1].counters.out_bytes, 250u);
  // Per hour: three windows, host 2 only in the second.
  rows.clear();
  f.range = {};
  ASSERT_TRUE(QueryRollups(*history_, f, store::RollupEntity::kInsideHost, kHour, {}, &rows).ok());
  top = TopPerBucket(rows, 1);
  ASSERT_EQ(top.size(), 3u);
  for (const RollupRow& r : top) EXPECT_EQ(r.subject.network.ToString(), "10.0.0.1");
  EXPECT_EQ(top[1].bucket_ns, kT0 + kHour);
  // External groups, filtered by --external and --min-bytes.
  rows.clear();
  f.external = *Prefix::Parse("198.51.2.0/24");
  ASSERT_TRUE(QueryRollups(*history_, f, store::RollupEntity::kExternalGroup, 0, {}, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].subject.ToString(), "198.51.2.0/24");
  // "out" is towards the outside, for groups as for hosts: what the site sent to the group.
  EXPECT_EQ(rows[0].counters.out_bytes, 257u);
  EXPECT_EQ(rows[0].counters.in_bytes, 0u);
  f.min_bytes = 1000;
  rows.clear();
  ASSERT_TRUE(QueryRollups(*history_, f, store::RollupEntity::kExternalGroup, 0, {}, &rows).ok());
  EXPECT_TRUE(rows.empty());
  // By tenant.
  HistoryFilter t;
  t.tenant = "research";
  rows.clear();
  ASSERT_TRUE(
      QueryRollups(*history_, t, store::RollupEntity::kInsideHost, 0, {"research"}, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].counters.out_bytes, 18000u);
}

TEST_F(HistoryQueries, FlowsAddUpTheirUpdatesAndFilter) {
  {
    store::HistoryWriter w(*history_, options_);
    analytics::FlowUpdate u = Flow(7, 1, 1, kT0 + kMinute, 1000);
    u.reason = analytics::FlowEndReason::kActive;
    w.OnFlowUpdate(u);
    u.first_update = false;
    u.at = u.last = StreamTime{kT0 + 2 * kMinute};
    u.a_to_b = {2, 500, 400};
    u.reason = analytics::FlowEndReason::kIdle;
    w.OnFlowUpdate(u);
    w.OnFlowUpdate(Flow(8, 2, 1, kT0 + 3 * kMinute, 10));
    ASSERT_TRUE(w.Flush().ok());
  }
  HistoryFilter f;
  std::vector<FlowRow> flows;
  ASSERT_TRUE(QueryFlows(*history_, f, {"research"}, &flows).ok());
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].line.flow_id, 7u);
  EXPECT_EQ(flows[0].line.a_to_b.l3_bytes, 1500u);
  EXPECT_EQ(flows[0].line.a_to_b.packets, 3u);
  EXPECT_EQ(flows[0].line.last.ns, kT0 + 2 * kMinute);
  f.inside = *Prefix::Parse("10.0.0.2");
  flows.clear();
  ASSERT_TRUE(QueryFlows(*history_, f, {}, &flows).ok());
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].line.flow_id, 8u);
  HistoryFilter g;
  g.min_bytes = 100;
  g.kind = "outbound";
  flows.clear();
  ASSERT_TRUE(QueryFlows(*history_, g, {}, &flows).ok());
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].line.flow_id, 7u);
  g.kind = "inbound";
  flows.clear();
  ASSERT_TRUE(QueryFlows(*history_, g, {}, &flows).ok());
  EXPECT_TRUE(flows.empty());
}

}  // namespace
}  // namespace weighbridge::app
