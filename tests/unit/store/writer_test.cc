#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "test_util.h"
#include "weighbridge/store/history.h"

namespace weighbridge::store {
namespace {

using testing::TempDir;

constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z, a minute edge
constexpr std::int64_t kMinute = 60 * kNanosPerSecond;

struct Fixture {
  TempDir dir;
  HistoryOptions options;
  std::unique_ptr<History> history;
  explicit Fixture(std::size_t capacity = 65536) {
    options.path = dir.Sub("db");
    options.queue_capacity = capacity;
    auto h = History::Open(options);
    EXPECT_TRUE(h.ok()) << h.error();
    if (h.ok()) history = std::move(*h);
  }
  int CountFlows() {
    int n = 0;
    EXPECT_TRUE(history
                    ->ScanFlows({},
                                [&](const analytics::FlowUpdate&) {
                                  ++n;
                                  return true;
                                })
                    .ok());
    return n;
  }
};

TEST(HistoryWriter, AFullQueueDropsAndCounts) {
  Fixture f(8);
  ASSERT_TRUE(f.history);
  HistoryWriter w(*f.history, f.options);
  w.SetPausedForTesting(true);
  for (int i = 1; i <= 13; ++i)
    w.OnFlowUpdate(testing::MakeFlow(static_cast<std::uint64_t>(i), kT0 + i));
  w.SaveState("never-dropped", "blob");  // state is not counted against the capacity
  HistoryWriter::Stats s = w.stats();
  EXPECT_EQ(s.queue_drops, 5u);
  EXPECT_EQ(s.queue_depth, 8u);
  EXPECT_EQ(s.records_written, 0u);
  w.SetPausedForTesting(false);
  ASSERT_TRUE(w.Flush().ok());
  s = w.stats();
  EXPECT_EQ(s.records_written, 9u);  // 8 flows and the state
  EXPECT_EQ(s.queue_drops, 5u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(s.write_errors, 0u);
  EXPECT_GT(s.batches_written, 0u);
  EXPECT_EQ(f.CountFlows(), 8);
  auto st = f.history->GetState("never-dropped");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ(**st, "blob");
}

// Replay's policy: a full queue makes the producer wait, and nothing is dropped.
TEST(HistoryWriter, BlockWhenFullLosesNothing) {
  Fixture f(16);
  ASSERT_TRUE(f.history);
  f.options.block_when_full = true;
  HistoryWriter w(*f.history, f.options);
  for (int i = 1; i <= 5000; ++i)
    w.OnFlowUpdate(testing::MakeFlow(static_cast<std::uint64_t>(i), kT0 + i));
  ASSERT_TRUE(w.Flush().ok());
  EXPECT_EQ(w.stats().queue_drops, 0u);
  EXPECT_EQ(f.CountFlows(), 5000);
}

TEST(HistoryWriter, FlushWritesEverythingQueuedBeforeItFromManyThreads) {
  Fixture f;
  ASSERT_TRUE(f.history);
  HistoryWriter w(*f.history, f.options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&w, t] {
      for (int i = 0; i < 2500; ++i) {
        w.OnFlowUpdate(testing::MakeFlow(static_cast<std::uint64_t>(t * 10000 + i), kT0 + i));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(w.Flush().ok());
  EXPECT_EQ(f.CountFlows(), 10000);
  EXPECT_EQ(w.stats().queue_drops, 0u);
  w.Stop();
  w.Stop();  // idempotent
  EXPECT_TRUE(w.Flush().ok());
  w.OnFlowUpdate(testing::MakeFlow(99, kT0));  // after Stop: dropped, counted
  EXPECT_EQ(w.stats().queue_drops, 1u);
}

TEST(HistoryWriter, StateIsWrittenInOrderWithRecords) {
  Fixture f;
  ASSERT_TRUE(f.history);
  {
    HistoryWriter w(*f.history, f.options);
    w.SaveState("s", "1");
    w.SaveState("s", "2");
    w.SaveState("s", "3");
  }  // the destructor flushes
  auto st = f.history->GetState("s");
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_EQ(**st, "3");
}

TEST(HistoryWriter, KeepsOnlyTheLatestVersionOfATransfer) {
  Fixture f;
  ASSERT_TRUE(f.history);
  HistoryWriter w(*f.history, f.options);
  analytics::Transfer t = testing::MakeTransfer(5, kT0 + 100 * kMinute, kT0 + 101 * kMinute);
  w.OnTransfer(t);
  t.version = 2;
  t.first = StreamTime{kT0 + 50 * kMinute};  // a flow that started earlier joined
  t.last = StreamTime{kT0 + 200 * kMinute};
  t.sent.l3_bytes = 999;
  w.OnTransfer(t);
  ASSERT_TRUE(w.Flush().ok());
  t.version = 3;
  t.ended = true;
  w.OnTransfer(t);
  w.OnTransfer(testing::MakeTransfer(6, kT0, kT0 + kMinute));
  ASSERT_TRUE(w.Flush().ok());
  std::vector<analytics::Transfer> got;
  ASSERT_TRUE(f.history
                  ->ScanTransfers({},
                                  [&](const analytics::Transfer& x) {
                                    got.push_back(x);
                                    return true;
                                  })
                  .ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, 6u);  // by first time
  EXPECT_EQ(got[1].id, 5u);
  EXPECT_EQ(got[1].version, 3u);
  EXPECT_TRUE(got[1].ended);
  EXPECT_EQ(got[1].sent.l3_bytes, 999u);
  // Overlap: a range inside the long transfer's span finds it although it started before.
  got.clear();
  ASSERT_TRUE(f.history
                  ->ScanTransfers({kT0 + 150 * kMinute, kT0 + 151 * kMinute},
                                  [&](const analytics::Transfer& x) {
                                    got.push_back(x);
                                    return true;
                                  })
                  .ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, 5u);
}

TEST(HistoryWriter, StoresEveryAlertVersionAndScansByOverlap) {
  Fixture f;
  ASSERT_TRUE(f.history);
  HistoryWriter w(*f.history, f.options);
  w.OnAlert(testing::MakeAlert(1, 1, kT0, kT0 + kMinute));
  w.OnAlert(testing::MakeAlert(1, 2, kT0, kT0 + 10 * kMinute));
  w.OnAlert(testing::MakeAlert(2, 1, kT0 + 20 * kMinute, kT0 + 21 * kMinute));
  ASSERT_TRUE(w.Flush().ok());
  std::vector<std::pair<std::uint64_t, std::uint32_t>> got;
  auto collect = [&](TimeRange r) {
    got.clear();
    EXPECT_TRUE(f.history
                    ->ScanAlerts(r,
                                 [&](const analytics::Alert& a) {
                                   got.emplace_back(a.id, a.version);
                                   return true;
                                 })
                    .ok());
  };
  collect({});
  EXPECT_EQ(got, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{1, 1}, {1, 2}, {2, 1}}));
  collect({kT0 + 5 * kMinute, kT0 + 6 * kMinute});  // only version 2 spans this
  EXPECT_EQ(got, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{1, 2}}));
  collect({kT0 + 30 * kMinute, kT0 + 40 * kMinute});
  EXPECT_TRUE(got.empty());
}

// A flow update covering 2.5 minutes spreads over three minute rows in proportion to time; the
// rows add up to exactly the update, and the hour row holds the whole.
TEST(HistoryWriter, RollupsSpreadDeltasOverMinutes) {
  Fixture f;
  ASSERT_TRUE(f.history);
  HistoryWriter w(*f.history, f.options);
  analytics::FlowUpdate u = testing::MakeFlow(1, kT0 + 150 * kNanosPerSecond);
  u.first = StreamTime{kT0 + 30 * kNanosPerSecond};
  u.last = StreamTime{kT0 + 150 * kNanosPerSecond};  // 30 s, 60 s and 30 s in three minutes
  u.a_to_b = {1200, 1'200'000, 1'000'000};
  u.b_to_a = {600, 31'200, 0};
  u.tenant = 2;
  u.reason = analytics::FlowEndReason::kActive;
  w.OnFlowUpdate(u);
  // The next delta of the same flow covers [last, new last].
  analytics::FlowUpdate v = u;
  v.first_update = false;
  v.last = StreamTime{kT0 + 170 * kNanosPerSecond};
  v.at = v.last;
  v.a_to_b = {10, 777, 700};
  v.b_to_a = {};
  v.reason = analytics::FlowEndReason::kIdle;
  w.OnFlowUpdate(v);
  ASSERT_TRUE(w.Flush().ok());
  std::map<std::int64_t, RollupCounters> host;
  std::map<std::int64_t, RollupCounters> group;
  ASSERT_TRUE(f.history
                  ->ScanRollups(RollupStep::kMinute, {},
                                [&](const RollupRecord& r) {
                                  if (r.entity == RollupEntity::kInsideHost) {
                                    EXPECT_EQ(r.subject, (Prefix{u.key.a, 32}));
                                    EXPECT_EQ(r.tenant, 2);
                                    host[r.minute_ns - kT0] += r.counters;
                                  } else {
                                    EXPECT_EQ(r.subject.ToString(), "198.51.100.0/24");
                                    group[r.minute_ns - kT0] += r.counters;
                                  }
                                  return true;
                                })
                  .ok());
  ASSERT_EQ(host.size(), 3u);
  EXPECT_EQ(host[0].out_bytes, 300'000u);
  EXPECT_EQ(host[kMinute].out_bytes, 600'000u);
  EXPECT_EQ(host[2 * kMinute].out_bytes, 300'000u + 777u);
  EXPECT_EQ(host[0].in_bytes, 7'800u);
  EXPECT_EQ(host[0].flows, 1u);
  EXPECT_EQ(host[kMinute].flows, 0u);
  // The group sees the mirror image: what the host sent is what went out to the group.
  EXPECT_EQ(group[kMinute].out_bytes, 600'000u);
  EXPECT_EQ(group[kMinute].in_bytes, 15'600u);
  RollupCounters hour;
  ASSERT_TRUE(f.history
                  ->ScanRollups(RollupStep::kHour, {},
                                [&](const RollupRecord& r) {
                                  if (r.entity == RollupEntity::kInsideHost) hour += r.counters;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(hour.out_bytes, 1'200'777u);
  EXPECT_EQ(hour.in_bytes, 31'200u);
  EXPECT_EQ(hour.out_packets, 1210u);
  EXPECT_EQ(hour.flows, 1u);
}

}  // namespace
}  // namespace weighbridge::store
