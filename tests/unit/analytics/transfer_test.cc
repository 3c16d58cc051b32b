#include "weighbridge/analytics/transfer.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <vector>

#include "weighbridge/analytics/update_merger.h"

namespace weighbridge::analytics {
namespace {

constexpr std::int64_t kSec = kNanosPerSecond;
constexpr std::int64_t kT0 = 1'800'000'000LL * kSec;

class Keep : public TransferSink {
 public:
  void OnTransfer(const Transfer& t) override {
    latest[t.id] = t;
    ++calls;
  }
  std::vector<Transfer> Ended() const {
    std::vector<Transfer> out;
    for (const auto& [id, t] : latest) {
      if (t.ended) out.push_back(t);
    }
    return out;
  }
  std::map<std::uint64_t, Transfer> latest;
  int calls = 0;
};

FlowUpdate Flow(const char* a, std::uint16_t a_port, const char* b, std::uint16_t b_port,
                capture::Direction dir, std::int64_t first, std::int64_t last,
                std::uint64_t a_to_b_payload, std::uint64_t b_to_a_payload, FlowEndReason reason,
                std::uint64_t id) {
  FlowUpdate u;
  u.key = FlowKey{*IpAddress::Parse(a), *IpAddress::Parse(b), a_port, b_port, 0, 6};
  u.flow_id = id;
  u.first = StreamTime::FromNanos(first);
  u.last = StreamTime::FromNanos(last);
  u.a_to_b = DirectionCounters{a_to_b_payload / 1448 + 1,
                               a_to_b_payload + 52 * (a_to_b_payload / 1448 + 1), a_to_b_payload};
  u.b_to_a = DirectionCounters{b_to_a_payload / 1448 + 1,
                               b_to_a_payload + 52 * (b_to_a_payload / 1448 + 1), b_to_a_payload};
  u.direction = dir;
  u.reason = reason;
  u.at = StreamTime::FromNanos(reason == FlowEndReason::kActive ? last : last + 60 * kSec);
  u.first_update = true;  // a flow's later updates say otherwise (see Later)
  return u;
}

FlowUpdate Later(FlowUpdate u) {
  u.first_update = false;
  return u;
}

TEST(Sessionizer, ParallelStreamsToOnePeerGroupAreOneTransfer) {
  Keep keep;
  Sessionizer s(SessionizerOptions{}, &keep);
  const char* peers[] = {"203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13",
                         "203.0.113.14", "203.0.113.15", "203.0.113.16", "203.0.113.17"};
  std::vector<FlowUpdate> updates;
  std::uint64_t want = 0;
  for (int i = 0; i < 8; ++i) {  // each stream: an active report, then its end
    const std::uint64_t part = 2'007'500'000ull + static_cast<std::uint64_t>(i);
    want += part;
    updates.push_back(Flow("10.30.1.5", static_cast<std::uint16_t>(50000 + i), peers[i], 443,
                           capture::Direction::kOutbound, kT0 + i * kSec, kT0 + 60 * kSec, part / 2,
                           1000, FlowEndReason::kActive, 100 + i));
    updates.push_back(Later(Flow("10.30.1.5", static_cast<std::uint16_t>(50000 + i), peers[i], 443,
                                 capture::Direction::kOutbound, kT0 + i * kSec, kT0 + 120 * kSec,
                                 part - part / 2, 1000, FlowEndReason::kClosed, 100 + i)));
  }
  std::stable_sort(updates.begin(), updates.end(),
                   [](const FlowUpdate& x, const FlowUpdate& y) { return x.at < y.at; });
  for (const FlowUpdate& u : updates) s.OnFlowUpdate(u);
  s.FlushAll();
  const auto ended = keep.Ended();
  ASSERT_EQ(ended.size(), 1u);
  const Transfer& t = ended[0];
  EXPECT_EQ(t.sent.payload_bytes, want);  // 16.06 GB: an 8B-parameter model in bf16
  EXPECT_EQ(t.received.payload_bytes, 16'000u);
  EXPECT_EQ(t.flows, 8u);
  EXPECT_EQ(t.peak_parallel, 8u);
  EXPECT_EQ(t.kind, capture::Direction::kOutbound);
  EXPECT_EQ(t.inside.ToString(), "10.30.1.5");
  EXPECT_EQ(t.external.ToString(), "203.0.113.0/24");
  EXPECT_EQ(t.first.ns, kT0);
  EXPECT_EQ(t.last.ns, kT0 + 120 * kSec);
  EXPECT_GT(t.Asymmetry(), 1e5);
  EXPECT_GT(keep.calls, 16);  // visible while running, not only at the end
}

TEST(Sessionizer, ASilenceLongerThanTheGapStartsANewTransfer) {
  Keep keep;
  SessionizerOptions opt;
  opt.gap_ns = 600 * kSec;
  Sessionizer s(opt, &keep);
  s.OnFlowUpdate(Flow("10.0.0.1", 1, "198.51.100.1", 443, capture::Direction::kOutbound, kT0,
                      kT0 + 10 * kSec, 5000, 0, FlowEndReason::kIdle, 1));
  // 9 minutes later: same transfer.
  s.OnFlowUpdate(Flow("10.0.0.1", 2, "198.51.100.2", 443, capture::Direction::kOutbound,
                      kT0 + 550 * kSec, kT0 + 560 * kSec, 5000, 0, FlowEndReason::kIdle, 2));
  // 11 minutes after that: a new one.
  s.OnFlowUpdate(Flow("10.0.0.1", 3, "198.51.100.3", 443, capture::Direction::kOutbound,
                      kT0 + 1230 * kSec, kT0 + 1240 * kSec, 7000, 0, FlowEndReason::kIdle, 3));
  s.FlushAll();
  auto ended = keep.Ended();
  ASSERT_EQ(ended.size(), 2u);
  std::sort(ended.begin(), ended.end(),
            [](const Transfer& x, const Transfer& y) { return x.first < y.first; });
  EXPECT_EQ(ended[0].sent.payload_bytes, 10'000u);
  EXPECT_EQ(ended[0].flows, 2u);
  EXPECT_EQ(ended[1].sent.payload_bytes, 7'000u);
}

TEST(Sessionizer, AdvanceToEndsATransferOnceNoUpdateCouldExtendIt) {
  Keep keep;
  SessionizerOptions opt;
  opt.gap_ns = 600 * kSec;
  opt.max_update_delay_ns = 120 * kSec;
  Sessionizer s(opt, &keep);
  s.OnFlowUpdate(Flow("10.0.0.1", 1, "198.51.100.1", 443, capture::Direction::kOutbound, kT0,
                      kT0 + 10 * kSec, 5000, 0, FlowEndReason::kIdle, 1));
  // A flow that started before last + gap could still report up to max_update_delay later.
  s.AdvanceTo(StreamTime::FromNanos(kT0 + 10 * kSec + 600 * kSec + 119 * kSec));
  EXPECT_TRUE(keep.Ended().empty());
  s.AdvanceTo(StreamTime::FromNanos(kT0 + 10 * kSec + 600 * kSec + 121 * kSec));
  ASSERT_EQ(keep.Ended().size(), 1u);
  EXPECT_EQ(keep.Ended()[0].sent.payload_bytes, 5000u);
  EXPECT_EQ(s.open_transfers(), 0u);
}

TEST(Sessionizer, ExportedOpenTransfersContinueAfterARestart) {
  SessionizerOptions opt;
  opt.gap_ns = 600 * kSec;
  Keep before;
  std::vector<OpenTransferState> saved;
  {
    Sessionizer s(opt, &before);
    s.OnFlowUpdate(Flow("10.0.0.1", 1, "198.51.100.1", 443, capture::Direction::kOutbound, kT0,
                        kT0 + 100 * kSec, 7'000'000, 0, FlowEndReason::kFlushed, 1));
    saved = s.ExportOpen();
  }
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_TRUE(before.Ended().empty());
  Keep after;
  Sessionizer s(opt, &after);
  s.ImportOpen(saved);
  // The same upload goes on after the restart, on a new connection to another address of the
  // peer's /24: one transfer, both runs' bytes.
  s.OnFlowUpdate(Flow("10.0.0.1", 2, "198.51.100.9", 443, capture::Direction::kOutbound,
                      kT0 + 130 * kSec, kT0 + 400 * kSec, 9'000'000, 0, FlowEndReason::kIdle, 2));
  s.FlushAll();
  const auto ended = after.Ended();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].id, saved[0].transfer.id);
  EXPECT_EQ(ended[0].sent.payload_bytes, 16'000'000u);
  EXPECT_EQ(ended[0].flows, 2u);
  EXPECT_EQ(ended[0].first.ns, kT0);
}

TEST(Sessionizer, GroupsDirectionsAndNamedPeers) {
  Keep keep;
  SessionizerOptions opt;
  opt.named_groups = {
      {"bucket", {*Prefix::Parse("192.0.2.0/24"), *Prefix::Parse("198.51.100.0/24")}}};
  Sessionizer s(opt, &keep);
  // An upload spread over two ranges of one named endpoint: one transfer.
  s.OnFlowUpdate(Flow("10.0.0.1", 1, "192.0.2.9", 443, capture::Direction::kOutbound, kT0,
                      kT0 + kSec, 100, 0, FlowEndReason::kClosed, 1));
  s.OnFlowUpdate(Flow("10.0.0.1", 2, "198.51.100.9", 443, capture::Direction::kOutbound, kT0,
                      kT0 + kSec, 200, 0, FlowEndReason::kClosed, 2));
  // A download initiated from outside towards an inside server: inbound data.
  s.OnFlowUpdate(Flow("203.0.113.5", 40000, "10.0.0.2", 873, capture::Direction::kInbound, kT0,
                      kT0 + kSec, 5000, 10, FlowEndReason::kClosed, 3));
  // An external host pulling from an inside server: outbound data, whoever started the flow.
  s.OnFlowUpdate(Flow("203.0.113.6", 40000, "10.0.0.3", 443, capture::Direction::kInbound, kT0,
                      kT0 + kSec, 10, 9000, FlowEndReason::kClosed, 4));
  // East-west and transit.
  s.OnFlowUpdate(Flow("10.0.0.4", 5000, "10.20.0.7", 2049, capture::Direction::kInternal, kT0,
                      kT0 + kSec, 777, 0, FlowEndReason::kClosed, 5));
  s.OnFlowUpdate(Flow("203.0.113.7", 1, "198.18.0.1", 2, capture::Direction::kTransit, kT0,
                      kT0 + kSec, 1, 1, FlowEndReason::kClosed, 6));
  s.FlushAll();
  std::map<std::string, Transfer> by_inside;
  for (const Transfer& t : keep.Ended()) by_inside[t.inside.ToString()] = t;
  ASSERT_EQ(by_inside.size(), 4u);
  EXPECT_EQ(by_inside["10.0.0.1"].external_name, "bucket");
  EXPECT_EQ(by_inside["10.0.0.1"].sent.payload_bytes, 300u);
  EXPECT_EQ(by_inside["10.0.0.1"].flows, 2u);
  EXPECT_EQ(by_inside["10.0.0.2"].kind, capture::Direction::kInbound);
  EXPECT_EQ(by_inside["10.0.0.2"].received.payload_bytes, 5000u);
  EXPECT_EQ(by_inside["10.0.0.3"].kind, capture::Direction::kOutbound);
  EXPECT_EQ(by_inside["10.0.0.3"].sent.payload_bytes, 9000u);
  EXPECT_EQ(by_inside["10.0.0.4"].kind, capture::Direction::kInternal);
  EXPECT_EQ(by_inside["10.0.0.4"].external.ToString(), "10.20.0.0/24");
}

// ---- Merging shards' updates into one order ----------------------------------------------------

class Record : public FlowSink {
 public:
  void OnFlowUpdate(const FlowUpdate& u) override { seen.push_back({u.at.ns, u.flow_id}); }
  std::vector<std::pair<std::int64_t, std::uint64_t>> seen;
};

TEST(UpdateMerger, ReleasesUpdatesFromAllShardsInEventTimeOrder) {
  constexpr unsigned kShards = 3;
  constexpr int kPerShard = 20'000;
  Record out;
  UpdateMerger merger(kShards, &out);
  auto inboxes = merger.inboxes();
  std::vector<std::thread> producers;
  for (unsigned s = 0; s < kShards; ++s) {
    producers.emplace_back([&, s] {
      // Each shard's own updates rise in time with some jitter within the watermark lag.
      for (int i = 0; i < kPerShard; ++i) {
        FlowUpdate u;
        const std::int64_t now = kT0 + static_cast<std::int64_t>(i) * 1'000'000;
        u.at = StreamTime::FromNanos(now - static_cast<std::int64_t>((i * 7919 + s * 31) % 1000) *
                                               1'000'000);
        u.flow_id = static_cast<std::uint64_t>(i) * kShards + s;
        inboxes[s]->OnFlowUpdate(u);
        inboxes[s]->OnWatermark(StreamTime::FromNanos(now - 2 * kSec));
      }
    });
  }
  for (auto& p : producers) p.join();
  merger.Finish();
  ASSERT_EQ(out.seen.size(), kShards * kPerShard);
  EXPECT_TRUE(std::is_sorted(out.seen.begin(), out.seen.end()));
  EXPECT_EQ(merger.late_updates(), 0u);
}

}  // namespace
}  // namespace weighbridge::analytics
