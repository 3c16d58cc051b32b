#include "weighbridge/analytics/pipeline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

namespace weighbridge::analytics {
namespace {

using capture::PacketMeta;

// One per shard, so no locking is needed while workers run.
class Collect : public FlowSink {
 public:
  void OnFlowUpdate(const FlowUpdate& u) override { updates.push_back(u); }
  std::vector<FlowUpdate> updates;
};

struct FlowSum {
  FlowKey key;
  std::int64_t first = 0;
  std::int64_t last = 0;
  DirectionCounters ab;
  DirectionCounters ba;
  bool operator==(const FlowSum& o) const {
    return key == o.key && first == o.first && last == o.last && ab == o.ab && ba == o.ba;
  }
};

// Deterministic traffic: many TCP and UDP flows, both directions, with idle gaps long enough to
// split some flows, and the generator's own per-flow sums as the truth.
std::vector<PacketMeta> MakeTraffic(std::uint64_t seed, int packets) {
  std::vector<PacketMeta> out;
  std::uint64_t x = seed;
  auto next = [&x] {
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  std::int64_t t = 1'700'000'000LL * kNanosPerSecond;
  for (int i = 0; i < packets; ++i) {
    t += static_cast<std::int64_t>(next() % 2'000'000);    // up to 2 ms apart
    if (i % 50'000 == 49'999) t += 120 * kNanosPerSecond;  // a silence past the idle timeout
    const std::uint32_t host = static_cast<std::uint32_t>(next() % 3000);
    PacketMeta m;
    m.ts = StreamTime::FromNanos(t);
    m.src = IpAddress::V4(0x0a000000u + host);
    m.dst = IpAddress::V4(0xc6336400u + host % 200);
    m.src_port = static_cast<std::uint16_t>(10000 + host);
    m.dst_port = 443;
    m.proto = host % 3 == 0 ? 17 : 6;
    m.payload_bytes = static_cast<std::uint32_t>(next() % 1400);
    m.l3_bytes = m.payload_bytes + 40;
    m.wire_bytes = m.l3_bytes + 14;
    m.tcp_seq = static_cast<std::uint32_t>(i) * 1400u;  // strictly new data per packet
    m.tcp_flags = capture::kTcpAck;
    if (next() % 2 == 0) {
      std::swap(m.src, m.dst);
      std::swap(m.src_port, m.dst_port);
    }
    out.push_back(m);
  }
  return out;
}

std::map<std::uint64_t, FlowSum> RunWith(unsigned workers, const std::vector<PacketMeta>& pkts) {
  PipelineOptions opt;
  opt.workers = workers;
  opt.flow_capacity = 1 << 16;
  std::vector<Collect> sinks(workers);
  std::vector<FlowSink*> ptrs;
  for (auto& s : sinks) ptrs.push_back(&s);
  {
    ShardedPipeline p(opt, ptrs, Backpressure::kBlock);
    for (std::size_t i = 0; i < pkts.size(); i += 256) {
      const std::size_t n = std::min<std::size_t>(256, pkts.size() - i);
      p.Dispatch(std::span<const PacketMeta>(pkts.data() + i, n));
    }
    p.Finish();
  }
  std::map<std::uint64_t, FlowSum> flows;
  for (const Collect& c : sinks) {
    for (const FlowUpdate& u : c.updates) {
      FlowSum& f = flows[u.flow_id];
      f.key = u.key;
      f.first = u.first.ns;
      f.last = std::max(f.last, u.last.ns);
      f.ab += u.a_to_b;
      f.ba += u.b_to_a;
    }
  }
  return flows;
}

TEST(ShardedPipeline, ResultsDoNotDependOnTheNumberOfWorkers) {
  const auto pkts = MakeTraffic(42, 200'000);
  const auto one = RunWith(1, pkts);
  const auto two = RunWith(2, pkts);
  const auto four = RunWith(4, pkts);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, four);
  // And against the traffic's own totals: nothing lost, nothing counted twice.
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  for (const auto& [id, f] : four) {
    packets += f.ab.packets + f.ba.packets;
    bytes += f.ab.l3_bytes + f.ba.l3_bytes;
  }
  std::uint64_t want_bytes = 0;
  for (const PacketMeta& m : pkts) want_bytes += m.l3_bytes;
  EXPECT_EQ(packets, pkts.size());
  EXPECT_EQ(bytes, want_bytes);
  // The silences split flows: more flow instances than distinct tuples.
  EXPECT_GT(one.size(), 3000u);
}

TEST(ShardedPipeline, DropPolicyCountsEveryPacketItCannotQueue) {
  PipelineOptions opt;
  opt.workers = 1;
  opt.flow_capacity = 1 << 12;
  Collect sink;
  ShardedPipeline p(opt, {&sink}, Backpressure::kDrop);
  const auto pkts = MakeTraffic(7, 400'000);
  for (std::size_t i = 0; i < pkts.size(); i += 256) {
    p.Dispatch(
        std::span<const PacketMeta>(pkts.data() + i, std::min<std::size_t>(256, pkts.size() - i)));
  }
  p.Finish();
  std::uint64_t accounted = 0;
  for (const FlowUpdate& u : sink.updates) accounted += u.a_to_b.packets + u.b_to_a.packets;
  const std::uint64_t dropped = p.shard_counters(0).ring_full_drops.Get();
  // Whatever the timing, every packet is either accounted or counted as dropped.
  EXPECT_EQ(accounted + dropped, pkts.size());
}

// Read while the workers run, so behind a mutex.
class LockedCollect : public FlowSink {
 public:
  void OnFlowUpdate(const FlowUpdate& u) override {
    const std::lock_guard<std::mutex> lock(mu_);
    updates_.push_back(u);
  }
  std::vector<FlowUpdate> Snapshot() {
    const std::lock_guard<std::mutex> lock(mu_);
    return updates_;
  }

 private:
  std::mutex mu_;
  std::vector<FlowUpdate> updates_;
};

TEST(ShardedPipeline, HeartbeatEndsIdleFlowsWithoutAnotherPacket) {
  PipelineOptions opt;
  opt.workers = 2;
  opt.flow_capacity = 1 << 12;
  LockedCollect a;
  LockedCollect b;
  ShardedPipeline p(opt, {&a, &b}, Backpressure::kDrop);
  const auto pkts = MakeTraffic(3, 1000);  // ~1 s of traffic, no silence
  p.Dispatch(pkts);
  auto ended = [&] {
    std::uint64_t packets = 0;
    for (LockedCollect* c : {&a, &b}) {
      for (const FlowUpdate& u : c->Snapshot()) {
        if (u.reason == FlowEndReason::kIdle) packets += u.a_to_b.packets + u.b_to_a.packets;
      }
    }
    return packets;
  };
  // Without a heartbeat nothing idles out: stream time stands still.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ended(), 0u);
  p.Heartbeat(StreamTime::FromNanos(pkts.back().ts.ns + opt.idle_timeout_ns + kNanosPerSecond));
  std::uint64_t got = 0;
  for (int i = 0; i < 500 && got < pkts.size(); ++i) {  // up to 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    got = ended();
  }
  // Every packet's flow ended by idle timeout, before Finish was called.
  EXPECT_EQ(got, pkts.size());
  p.Finish();
}

}  // namespace
}  // namespace weighbridge::analytics
