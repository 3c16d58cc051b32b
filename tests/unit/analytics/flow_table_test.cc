#include "weighbridge/analytics/flow_table.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "weighbridge/analytics/tcp_payload.h"

namespace weighbridge::analytics {
namespace {

using capture::PacketMeta;

// ---- TCP payload from sequence numbers -------------------------------------------------------

// A tracker with its "started" bit, as the flow table keeps them.
struct Tracker {
  TcpPayloadTracker t;
  bool started = false;
  std::uint32_t Add(std::uint32_t seq, std::uint32_t len) { return t.Add(seq, len, &started); }
};

TEST(TcpPayloadTracker, InOrderSegmentsCountOnce) {
  Tracker t;
  EXPECT_EQ(t.Add(1001, 0), 0u);  // pure ACK starts the direction
  EXPECT_EQ(t.Add(1001, 1000), 1000u);
  EXPECT_EQ(t.Add(2001, 1000), 1000u);
  EXPECT_EQ(t.Add(1001, 1000), 0u);    // retransmission
  EXPECT_EQ(t.Add(2501, 1000), 500u);  // overlaps the end: only the new half
}

TEST(TcpPayloadTracker, OutOfOrderSegmentFillsTheHole) {
  Tracker t;
  EXPECT_EQ(t.Add(0, 100), 100u);
  EXPECT_EQ(t.Add(300, 100), 100u);  // hole [100, 300)
  EXPECT_EQ(t.Add(100, 100), 100u);  // fills from the left: hole [200, 300)
  EXPECT_EQ(t.Add(150, 100), 50u);   // half old, half new
  EXPECT_EQ(t.Add(250, 100), 50u);   // the rest of the hole
  EXPECT_EQ(t.Add(0, 400), 0u);      // everything already seen
  EXPECT_EQ(t.Add(400, 100), 100u);
}

TEST(TcpPayloadTracker, ASecondHoleGivesUpTheFirstNeverOvercounting) {
  Tracker t;
  EXPECT_EQ(t.Add(0, 100), 100u);
  EXPECT_EQ(t.Add(200, 100), 100u);  // hole [100, 200)
  EXPECT_EQ(t.Add(400, 100), 100u);  // hole [300, 400) replaces it
  EXPECT_EQ(t.Add(300, 100), 100u);
  EXPECT_EQ(t.Add(100, 100), 0u);  // the given-up hole: a bounded undercount
  EXPECT_EQ(t.Add(0, 500), 0u);
}

TEST(TcpPayloadTracker, SequenceWrap) {
  Tracker t;
  const std::uint32_t near_end = 0xffffff00u;
  EXPECT_EQ(t.Add(near_end, 0x80), 0x80u);
  EXPECT_EQ(t.Add(near_end + 0x80, 0x100), 0x100u);  // crosses 2^32
  EXPECT_EQ(t.Add(near_end + 0x80, 0x100), 0u);      // retransmitted across the wrap
  EXPECT_EQ(t.Add(0x80, 0x40), 0x40u);               // after the wrap
  EXPECT_EQ(t.Add(0xc0, 0x40), 0x40u);
  EXPECT_EQ(t.Add(0x80, 0x40), 0u);
}

TEST(TcpPayloadTracker, MidStreamStartCountsFromFirstSegmentSeen) {
  Tracker t;
  EXPECT_EQ(t.Add(123456789, 1448), 1448u);
  EXPECT_EQ(t.Add(123456789 + 1448, 1448), 1448u);
}

TEST(TcpPayloadTracker, HugeJumpResynchronises) {
  Tracker t;
  EXPECT_EQ(t.Add(0, 100), 100u);
  EXPECT_EQ(t.Add(0x70000000u, 100), 100u);
  EXPECT_EQ(t.Add(50, 100), 0u);  // no hole was kept for the 1.8 GB jump: an old segment
}

// ---- Flow table -----------------------------------------------------------------------------

class Recorder : public FlowSink {
 public:
  void OnFlowUpdate(const FlowUpdate& u) override { updates.push_back(u); }
  std::vector<FlowUpdate> updates;
};

constexpr std::int64_t kSec = kNanosPerSecond;

PacketMeta Tcp(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
               std::int64_t t_ns, std::uint32_t seq, std::uint32_t payload, std::uint8_t flags) {
  PacketMeta m;
  m.ts = StreamTime::FromNanos(t_ns);
  m.src = *IpAddress::Parse(src);
  m.dst = *IpAddress::Parse(dst);
  m.src_port = sport;
  m.dst_port = dport;
  m.proto = 6;
  m.tcp_seq = seq;
  m.tcp_flags = flags;
  m.payload_bytes = payload;
  m.l3_bytes = 40 + payload;
  m.wire_bytes = m.l3_bytes + 14;
  return m;
}

PacketMeta Udp(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
               std::int64_t t_ns, std::uint32_t payload) {
  PacketMeta m = Tcp(src, sport, dst, dport, t_ns, 0, payload, 0);
  m.proto = 17;
  m.l3_bytes = 28 + payload;
  m.wire_bytes = m.l3_bytes + 14;
  return m;
}

struct Totals {
  DirectionCounters ab;
  DirectionCounters ba;
  int updates = 0;
  FlowKey key;
};

std::map<std::uint64_t, Totals> SumById(const std::vector<FlowUpdate>& updates) {
  std::map<std::uint64_t, Totals> out;
  for (const FlowUpdate& u : updates) {
    Totals& t = out[u.flow_id];
    t.ab += u.a_to_b;
    t.ba += u.b_to_a;
    t.key = u.key;
    ++t.updates;
  }
  return out;
}

TEST(FlowTable, BothDirectionsMeetInOneFlowWithTheFirstSenderAsA) {
  Recorder rec;
  FlowTable table(PipelineOptions{}, 1024, &rec);
  table.Account(Tcp("10.0.0.1", 40000, "198.51.100.7", 443, 1 * kSec, 100, 0, capture::kTcpSyn));
  table.Account(Tcp("198.51.100.7", 443, "10.0.0.1", 40000, 1 * kSec + 10, 900, 0,
                    capture::kTcpSyn | capture::kTcpAck));
  table.Account(
      Tcp("10.0.0.1", 40000, "198.51.100.7", 443, 1 * kSec + 20, 101, 500, capture::kTcpAck));
  table.Account(
      Tcp("198.51.100.7", 443, "10.0.0.1", 40000, 1 * kSec + 30, 901, 1200, capture::kTcpAck));
  EXPECT_EQ(table.size(), 1u);
  table.FlushAll();
  ASSERT_EQ(rec.updates.size(), 1u);
  const FlowUpdate& u = rec.updates[0];
  EXPECT_EQ(u.key.a.ToString(), "10.0.0.1");
  EXPECT_EQ(u.key.a_port, 40000);
  EXPECT_EQ(u.a_to_b.packets, 2u);
  EXPECT_EQ(u.b_to_a.packets, 2u);
  EXPECT_EQ(u.a_to_b.l3_bytes, 40u + 540u);
  EXPECT_EQ(u.b_to_a.l3_bytes, 40u + 1240u);
  EXPECT_EQ(u.a_to_b.payload_bytes, 500u);
  EXPECT_EQ(u.b_to_a.payload_bytes, 1200u);
  EXPECT_EQ(u.first.ns, 1 * kSec);
  EXPECT_EQ(u.last.ns, 1 * kSec + 30);
  EXPECT_EQ(u.reason, FlowEndReason::kFlushed);
}

TEST(FlowTable, VlanSeparatesConversations) {
  Recorder rec;
  FlowTable table(PipelineOptions{}, 1024, &rec);
  PacketMeta m = Udp("10.0.0.1", 53, "10.0.0.2", 5353, kSec, 10);
  table.Account(m);
  m.vlan = 20;
  table.Account(m);
  EXPECT_EQ(table.size(), 2u);
}

TEST(FlowTable, IdleTimeoutEndsAFlowInStreamTime) {
  Recorder rec;
  PipelineOptions opt;
  opt.idle_timeout_ns = 10 * kSec;
  FlowTable table(opt, 1024, &rec);
  table.Account(Udp("10.0.0.1", 1000, "10.0.0.2", 2000, 100 * kSec, 100));
  table.AdvanceTo(StreamTime::FromNanos(105 * kSec));
  EXPECT_TRUE(rec.updates.empty());
  // Advance in small steps, as bursts do; the sweep completes within a sweep period.
  for (std::int64_t t = 105 * kSec; t <= (111 + kSweepPeriodSeconds) * kSec; t += kSec / 10) {
    table.AdvanceTo(StreamTime::FromNanos(t));
  }
  ASSERT_EQ(rec.updates.size(), 1u);
  EXPECT_EQ(rec.updates[0].reason, FlowEndReason::kIdle);
  EXPECT_EQ(table.size(), 0u);
  // The same tuple later is a new flow with a new id.
  table.Account(Udp("10.0.0.1", 1000, "10.0.0.2", 2000, 200 * kSec, 100));
  table.FlushAll();
  ASSERT_EQ(rec.updates.size(), 2u);
  EXPECT_NE(rec.updates[0].flow_id, rec.updates[1].flow_id);
}

TEST(FlowTable, ActiveTimeoutReportsDeltasThatAddUpToTheWhole) {
  Recorder rec;
  PipelineOptions opt;
  opt.active_timeout_ns = 5 * kSec;
  opt.idle_timeout_ns = 60 * kSec;
  FlowTable table(opt, 1024, &rec);
  std::uint32_t seq = 1;
  std::uint64_t sent = 0;
  for (int i = 0; i < 300; ++i) {  // 30 s of a steady upload, one segment per 100 ms
    const std::int64_t t = 1000 * kSec + i * (kSec / 10);
    table.Account(Tcp("10.0.0.5", 50000, "203.0.113.9", 443, t, seq, 1448, capture::kTcpAck));
    seq += 1448;
    sent += 1448;
    table.AdvanceTo(StreamTime::FromNanos(t));
  }
  const std::size_t running_reports = rec.updates.size();
  EXPECT_GE(running_reports, 4u);  // reported while it runs
  for (const FlowUpdate& u : rec.updates) EXPECT_EQ(u.reason, FlowEndReason::kActive);
  table.FlushAll();
  auto sums = SumById(rec.updates);
  ASSERT_EQ(sums.size(), 1u);
  EXPECT_EQ(sums.begin()->second.ab.payload_bytes, sent);
  EXPECT_EQ(sums.begin()->second.ab.packets, 300u);
}

TEST(FlowTable, RstClosesAndASynReusingTheTupleStartsANewFlow) {
  Recorder rec;
  FlowTable table(PipelineOptions{}, 1024, &rec);
  table.Account(Tcp("10.0.0.1", 40000, "198.51.100.7", 80, kSec, 1, 0, capture::kTcpSyn));
  table.Account(Tcp("10.0.0.1", 40000, "198.51.100.7", 80, kSec + 1, 2, 100, capture::kTcpAck));
  table.Account(Tcp("198.51.100.7", 80, "10.0.0.1", 40000, kSec + 2, 7, 0, capture::kTcpRst));
  table.Account(Tcp("10.0.0.1", 40000, "198.51.100.7", 80, 2 * kSec, 5000, 0, capture::kTcpSyn));
  ASSERT_EQ(rec.updates.size(), 1u);
  EXPECT_EQ(rec.updates[0].reason, FlowEndReason::kClosed);
  EXPECT_EQ(rec.updates[0].a_to_b.packets, 2u);
  EXPECT_EQ(table.size(), 1u);
}

TEST(FlowTable, FullTableEvictsSmallFlowsAndKeepsTheBulkTransfer) {
  Recorder rec;
  PipelineOptions opt;
  FlowTable table(opt, 1024, &rec);
  std::uint32_t seq = 1;
  std::uint64_t sent = 0;
  std::int64_t t = kSec;
  for (int round = 0; round < 100; ++round) {
    for (int k = 0; k < 10; ++k) {
      table.Account(Tcp("10.0.0.9", 45000, "198.51.100.20", 443, t, seq, 1448, capture::kTcpAck));
      seq += 1448;
      sent += 1448;
    }
    for (int k = 0; k < 1000; ++k) {  // a flood of one-packet flows from distinct sources
      const std::uint32_t src = 0xc6336400u + static_cast<std::uint32_t>(round * 1000 + k);
      PacketMeta m = Tcp("0.0.0.0", 1, "10.0.0.2", 22, t, 0, 0, capture::kTcpSyn);
      m.src = IpAddress::V4(src);
      m.src_port = static_cast<std::uint16_t>(1024 + k);
      table.Account(m);
    }
    t += kSec / 1000;
  }
  EXPECT_LE(table.size(), 1024u);
  EXPECT_GT(table.counters().evictions.Get(), 90000u);
  table.FlushAll();
  std::uint64_t bulk_payload = 0;
  int bulk_ids = 0;
  for (const auto& [id, tot] : SumById(rec.updates)) {
    if (tot.key.a_port == 45000) {
      bulk_payload += tot.ab.payload_bytes;
      ++bulk_ids;
    }
  }
  EXPECT_EQ(bulk_ids, 1) << "the bulk flow was evicted and restarted";
  EXPECT_EQ(bulk_payload, sent);
  // Nothing lost: every packet is in some update.
  std::uint64_t packets = 0;
  for (const FlowUpdate& u : rec.updates) packets += u.a_to_b.packets + u.b_to_a.packets;
  EXPECT_EQ(packets, 100u * (10u + 1000u));
}

TEST(FlowTable, BackwardShiftDeletionKeepsEveryFlowFindable) {
  // Many flows on a small table, ended in an interleaved order: every remaining flow must still
  // be found (a second packet joins it instead of creating a new flow).
  Recorder rec;
  PipelineOptions opt;
  opt.idle_timeout_ns = 20 * kSec;
  FlowTable table(opt, 4096, &rec);
  for (int i = 0; i < 3000; ++i) {
    PacketMeta m = Udp("10.0.0.1", 1, "10.0.0.2", 2, i % 2 == 0 ? 10 * kSec : 25 * kSec, 10);
    m.src_port = static_cast<std::uint16_t>(i + 1);
    table.Account(m);
  }
  const std::int64_t end = (30 + kSweepPeriodSeconds + 1) * kSec;
  for (std::int64_t t = 25 * kSec; t <= end; t += kSec / 100) {
    table.AdvanceTo(StreamTime::FromNanos(t));
  }
  EXPECT_EQ(table.size(), 1500u);  // the even ones (t=10 s) idled out at 30 s, the odd not yet
  for (int i = 1; i < 3000; i += 2) {
    PacketMeta m = Udp("10.0.0.2", 2, "10.0.0.1", 1, end, 10);
    m.dst_port = static_cast<std::uint16_t>(i + 1);
    table.Account(m);
  }
  EXPECT_EQ(table.size(), 1500u);
}

TEST(FlowTable, WeightedPacketsBeyondThe32BitDeltasAreCountedExactly) {
  Recorder rec;
  FlowTable table(PipelineOptions{}, 1024, &rec);
  std::uint64_t want_bytes = 0;
  std::uint64_t want_payload = 0;
  std::uint32_t seq = 1;
  for (int i = 0; i < 5000; ++i) {  // 5000 packets sampled 1 in 10 000: 75 GB
    PacketMeta m =
        Tcp("10.0.0.1", 5000, "198.51.100.3", 443, kSec + i, seq, 1460, capture::kTcpAck);
    m.sample_weight = 10'000;
    seq += 1460;
    want_bytes += std::uint64_t{m.l3_bytes} * 10'000;
    want_payload += 1460ull * 10'000;
    table.Account(m);
  }
  PacketMeta huge =
      Tcp("10.0.0.1", 5000, "198.51.100.3", 443, kSec + 6000, seq, 60000, capture::kTcpAck);
  huge.sample_weight = 1'000'000;  // 60 GB in one weighted packet
  want_bytes += std::uint64_t{huge.l3_bytes} * 1'000'000;
  want_payload += 60000ull * 1'000'000;
  table.Account(huge);
  table.FlushAll();
  auto sums = SumById(rec.updates);
  ASSERT_EQ(sums.size(), 1u);
  EXPECT_EQ(sums.begin()->second.ab.l3_bytes, want_bytes);
  EXPECT_EQ(sums.begin()->second.ab.payload_bytes, want_payload);
  EXPECT_EQ(sums.begin()->second.ab.packets, 5000u * 10'000u + 1'000'000u);
  // The error of the estimate: 5001 samples, variance sum of N (N - 1) b^2 over them.
  const double want_var =
      5000.0 * 10'000.0 * 9'999.0 * 1460.0 * 1460.0 + 1'000'000.0 * 999'999.0 * 60'000.0 * 60'000.0;
  EXPECT_EQ(sums.begin()->second.ab.sampling.samples, 5001u);
  EXPECT_NEAR(sums.begin()->second.ab.sampling.payload_variance, want_var, want_var * 1e-12);
}

// Counts taken from every packet are exact and say so (no samples); a flow whose packets are
// weighted carries, per direction, the samples and the variance N (N - 1) b^2 summed over them,
// through active-timeout updates that add up, from its first weighted packet on.
TEST(FlowTable, SampledFlowsCarryTheirErrorAndExactFlowsNone) {
  Recorder rec;
  PipelineOptions o;
  o.active_timeout_ns = 10 * kSec;
  FlowTable table(o, 1024, &rec);
  // Exact: a TCP flow seen whole, with a retransmission.
  table.Account(Tcp("10.0.0.1", 4000, "198.51.100.1", 443, kSec, 1, 1000, capture::kTcpAck));
  table.Account(Tcp("10.0.0.1", 4000, "198.51.100.1", 443, 2 * kSec, 1, 1000, capture::kTcpAck));
  // Sampled: the first packet unweighted (before sampling applied), then weights 100 and 1000
  // with payloads that vary, in both directions, over several active timeouts.
  table.Account(Tcp("10.0.0.2", 5000, "198.51.100.2", 443, kSec, 1, 500, capture::kTcpAck));
  double var_ab = 0;
  double var_ba = 0;
  std::uint64_t payload_ab = 500;
  std::uint64_t samples_ab = 0;
  std::uint64_t samples_ba = 0;
  for (int i = 0; i < 40; ++i) {
    const std::uint64_t w = i % 2 == 0 ? 100 : 1000;
    const std::uint32_t b = 100u + 37u * static_cast<std::uint32_t>(i);
    const bool out = i % 3 != 0;
    PacketMeta m = out ? Tcp("10.0.0.2", 5000, "198.51.100.2", 443, 2 * kSec + i * kSec, 9, b,
                             capture::kTcpAck)
                       : Tcp("198.51.100.2", 443, "10.0.0.2", 5000, 2 * kSec + i * kSec, 9, b,
                             capture::kTcpAck);
    m.sample_weight = static_cast<std::uint32_t>(w);
    const double v = static_cast<double>(w) * static_cast<double>(w - 1) * b * b;
    if (out) {
      var_ab += v;
      payload_ab += w * b;  // same sequence number each time: counted from the headers
      ++samples_ab;
    } else {
      var_ba += v;
      ++samples_ba;
    }
    table.Account(m);
  }
  table.FlushAll();
  auto sums = SumById(rec.updates);
  ASSERT_EQ(sums.size(), 2u);
  int checked = 0;
  for (const auto& [id, t] : sums) {
    if (t.key.a == *IpAddress::Parse("10.0.0.1")) {
      EXPECT_EQ(t.ab.payload_bytes, 1000u);
      EXPECT_FALSE(t.ab.sampling.sampled());
      EXPECT_FALSE(t.ba.sampling.sampled());
      EXPECT_EQ(t.ab.sampling.payload_variance, 0.0);
      ++checked;
    } else {
      EXPECT_GE(t.updates, 4);  // active timeouts split it
      EXPECT_EQ(t.ab.payload_bytes, payload_ab);
      EXPECT_EQ(t.ab.sampling.samples, samples_ab);
      EXPECT_EQ(t.ba.sampling.samples, samples_ba);
      EXPECT_NEAR(t.ab.sampling.payload_variance, var_ab, var_ab * 1e-12);
      EXPECT_NEAR(t.ba.sampling.payload_variance, var_ba, var_ba * 1e-12);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST(FlowTable, SlotBudgetIs128BytesPerFlowAtFullLoad) {
  Recorder rec;
  FlowTable table(PipelineOptions{}, 1'000'000, &rec);
  EXPECT_LE(FlowTable::BytesPerSlot() * table.slot_count(), 128u * 1'000'000u + 128u);
}

TEST(FlowTable, HashSpreadsAddressesAndPortsThatCountUpTogether) {
  // A scan or a benchmark where address and port both increment must not pile onto few slots
  // (an earlier hash let them cancel out: 64 flows per home slot, and 8x slower probing).
  constexpr std::size_t kBuckets = 1 << 17;
  std::vector<int> load(kBuckets);
  int worst = 0;
  for (std::uint32_t f = 0; f < 100'000; ++f) {
    PacketMeta m = Tcp("0.0.0.0", 0, "198.51.100.1", 443, 0, 0, 0, 0);
    m.src = IpAddress::V4(0x0a000000u + f);
    m.src_port = static_cast<std::uint16_t>(1024 + (f & 0x7fff));
    const std::uint32_t h = static_cast<std::uint32_t>(SymmetricFlowHash(m));
    worst = std::max(worst, ++load[(std::uint64_t{h} * kBuckets) >> 32]);
  }
  // Uniform hashing of 100k keys into 131k buckets: the fullest bucket holds about 8.
  EXPECT_LE(worst, 12);
}

TEST(FlowTable, HashIsSymmetric) {
  PacketMeta m = Tcp("10.1.2.3", 1234, "2001:db8::1", 80, 0, 0, 0, 0);
  PacketMeta r = m;
  std::swap(r.src, r.dst);
  std::swap(r.src_port, r.dst_port);
  EXPECT_EQ(SymmetricFlowHash(m), SymmetricFlowHash(r));
  r.dst_port = 81;
  EXPECT_NE(SymmetricFlowHash(m), SymmetricFlowHash(r));
}

}  // namespace
}  // namespace weighbridge::analytics
