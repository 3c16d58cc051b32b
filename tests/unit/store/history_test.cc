#include "weighbridge/store/history.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "codec.h"
#include "test_util.h"

namespace weighbridge::store {
namespace {

using testing::TempDir;

constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z

std::unique_ptr<History> OpenOk(const HistoryOptions& o) {
  auto h = History::Open(o);
  EXPECT_TRUE(h.ok()) << h.error();
  return h.ok() ? std::move(*h) : nullptr;
}

TEST(History, CreatesAndReopens) {
  TempDir dir;
  HistoryOptions o;
  o.path = dir.Sub("db");
  o.tenant_names = {"research", "prod"};
  {
    auto h = OpenOk(o);
    ASSERT_TRUE(h);
    auto newest = h->NewestStreamTime();
    ASSERT_TRUE(newest.ok());
    EXPECT_FALSE(newest->has_value());
  }
  auto h = OpenOk(o);
  ASSERT_TRUE(h);
  auto names = h->TenantNames();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, o.tenant_names);
}

TEST(History, OutboxAndStateRoundTripAcrossReopen) {
  TempDir dir;
  HistoryOptions o;
  o.path = dir.Sub("db");
  {
    auto h = OpenOk(o);
    ASSERT_TRUE(h);
    ASSERT_TRUE(h->OutboxPut("b:2", "second").ok());
    ASSERT_TRUE(h->OutboxPut("a:1", std::string("fi\0rst", 6)).ok());
    ASSERT_TRUE(h->OutboxPut("c:3", "third").ok());
    ASSERT_TRUE(h->OutboxErase("c:3").ok());
    ASSERT_TRUE(h->OutboxErase("never-there").ok());
    ASSERT_TRUE(h->PutState("sessionizer", std::string(100000, 'x')).ok());
    ASSERT_TRUE(h->PutState("ingest", "v1").ok());
    ASSERT_TRUE(h->PutState("ingest", "v2").ok());
  }
  auto h = OpenOk(o);
  ASSERT_TRUE(h);
  auto box = h->OutboxLoad();
  ASSERT_TRUE(box.ok()) << box.error();
  ASSERT_EQ(box->size(), 2u);
  EXPECT_EQ((*box)[0].first, "a:1");  // key order
  EXPECT_EQ((*box)[0].second, std::string("fi\0rst", 6));
  EXPECT_EQ((*box)[1].first, "b:2");
  auto s = h->GetState("sessionizer");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ(**s, std::string(100000, 'x'));
  auto i = h->GetState("ingest");
  ASSERT_TRUE(i.ok() && i->has_value());
  EXPECT_EQ(**i, "v2");
  auto none = h->GetState("absent");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

// Writes meta.schema_version directly, as a future weighbridge would.
void SetSchema(const std::string& path, std::uint32_t version) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  // A future schema may have families this one does not know.
  rocksdb::DBOptions opts;
  opts.create_missing_column_families = true;
  descs.emplace_back("future_family", rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(opts, path, descs, &hs, &db).ok());
  std::string v;
  internal::PutBe32(&v, version);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "meta") {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), hs[i], "schema_version", v).ok());
    }
  }
  for (auto* h : hs) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

TEST(History, RefusesANewerSchema) {
  TempDir dir;
  HistoryOptions o;
  o.path = dir.Sub("db");
  { ASSERT_TRUE(OpenOk(o)); }
  SetSchema(o.path, kSchemaVersion + 1);
  auto h = History::Open(o);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().find("schema version " + std::to_string(kSchemaVersion + 1)),
            std::string::npos)
      << h.error();
  EXPECT_NE(h.error().find("newer"), std::string::npos) << h.error();
  auto r = History::OpenReadOnly(o.path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("newer"), std::string::npos) << r.error();
  // The same version opens again (the refusal changed nothing).
  SetSchema(o.path, kSchemaVersion);
  EXPECT_TRUE(OpenOk(o));
}

TEST(History, ReadOnlyOpenOfAMissingDatabaseSaysSo) {
  TempDir dir;
  auto r = History::OpenReadOnly(dir.Sub("nothing"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no history database"), std::string::npos) << r.error();
}

TEST(History, RetentionDeletesOldRangesAndKeepsNewOnes) {
  TempDir dir;
  HistoryOptions o;
  o.path = dir.Sub("db");
  o.flows_retention_ns = 10 * kNanosPerDay;
  o.alerts_retention_ns = 20 * kNanosPerDay;
  o.transfers_retention_ns = 20 * kNanosPerDay;
  o.rollups_retention_ns = 10 * kNanosPerDay;
  auto h = OpenOk(o);
  ASSERT_TRUE(h);
  constexpr int kDays = 30;
  {
    HistoryWriter w(*h, o);
    for (int d = 0; d < kDays; ++d) {
      const std::int64_t t = kT0 + d * kNanosPerDay;
      w.OnFlowUpdate(testing::MakeFlow(static_cast<std::uint64_t>(d + 1), t));
      w.OnAlert(testing::MakeAlert(static_cast<std::uint64_t>(d + 1), 1, t - 1000, t));
      w.OnTransfer(testing::MakeTransfer(static_cast<std::uint64_t>(d + 1), t - 1000, t));
    }
    ASSERT_TRUE(w.Flush().ok());
  }
  const std::int64_t now = kT0 + (kDays - 1) * kNanosPerDay;
  auto newest = h->NewestStreamTime();
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ(**newest, now);
  ASSERT_TRUE(h->ApplyRetention(o, now).ok());
  std::vector<std::int64_t> flows;
  ASSERT_TRUE(h->ScanFlows({}, [&](const analytics::FlowUpdate& u) {
                 flows.push_back(u.at.ns);
                 return true;
               }).ok());
  // Flows at days 20..29 are within 10 days of day 29; day 19 is exactly 10 days old: kept too
  // (the cutoff is exclusive: older than now - retention goes).
  ASSERT_EQ(flows.size(), 11u);
  EXPECT_EQ(flows.front(), kT0 + 19 * kNanosPerDay);
  EXPECT_EQ(flows.back(), now);
  int alerts = 0;
  ASSERT_TRUE(h->ScanAlerts({}, [&](const analytics::Alert& a) {
                 EXPECT_GE(a.last_seen.ns, now - 20 * kNanosPerDay);
                 ++alerts;
                 return true;
               }).ok());
  EXPECT_EQ(alerts, 21);
  int transfers = 0;
  ASSERT_TRUE(h->ScanTransfers({}, [&](const analytics::Transfer&) {
                 ++transfers;
                 return true;
               }).ok());
  EXPECT_EQ(transfers, 20);  // keyed by first = t - 1000: day 9's first is just before the cutoff
  std::int64_t oldest_rollup = std::numeric_limits<std::int64_t>::max();
  int rollup_rows = 0;
  ASSERT_TRUE(h->ScanRollups(RollupStep::kMinute, {}, [&](const RollupRecord& r) {
                 oldest_rollup = std::min(oldest_rollup, r.minute_ns);
                 ++rollup_rows;
                 return true;
               }).ok());
  EXPECT_GE(oldest_rollup, now - 10 * kNanosPerDay - 60 * kNanosPerSecond);
  // Host and group rows per day; a flow's bytes fall in the minute before `at` (first = at - 1us,
  // at on a minute boundary), and day 19's minute starts before the cutoff: 10 days kept.
  EXPECT_EQ(rollup_rows, 2 * 10);
  // Retention again with the same "now" deletes nothing more.
  ASSERT_TRUE(h->ApplyRetention(o, now).ok());
  flows.clear();
  ASSERT_TRUE(h->ScanFlows({}, [&](const analytics::FlowUpdate& u) {
                 flows.push_back(u.at.ns);
                 return true;
               }).ok());
  EXPECT_EQ(flows.size(), 11u);
}

TEST(History, ReadOnlyOpenWorksBesideAWriter) {
  TempDir dir;
  HistoryOptions o;
  o.path = dir.Sub("db");
  auto h = OpenOk(o);
  ASSERT_TRUE(h);
  HistoryWriter w(*h, o);
  for (int i = 1; i <= 100; ++i)
    w.OnFlowUpdate(testing::MakeFlow(static_cast<std::uint64_t>(i), kT0 + i));
  ASSERT_TRUE(w.Flush().ok());
  auto r = History::OpenReadOnly(o.path);
  ASSERT_TRUE(r.ok()) << r.error();
  auto count = [&] {
    int n = 0;
    EXPECT_TRUE((*r)->ScanFlows({},
                                [&](const analytics::FlowUpdate&) {
                                  ++n;
                                  return true;
                                })
                    .ok());
    return n;
  };
  EXPECT_EQ(count(), 100);
  EXPECT_FALSE((*r)->OutboxPut("k", "v").ok());  // a reader cannot write
  for (int i = 101; i <= 150; ++i)
    w.OnFlowUpdate(testing::MakeFlow(static_cast<std::uint64_t>(i), kT0 + i));
  ASSERT_TRUE(w.Flush().ok());
  ASSERT_TRUE((*r)->CatchUp().ok());
  EXPECT_EQ(count(), 150);
  // A second read-write open is refused while the first holds the database.
  auto second = History::Open(o);
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace weighbridge::store
