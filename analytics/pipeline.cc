#include "weighbridge/analytics/pipeline.h"

#include <pthread.h>

#include <array>
#include <chrono>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace weighbridge::analytics {

namespace {

constexpr std::size_t kRingItems = 8192;  // per shard: ~640 KiB of PacketMeta
constexpr std::size_t kStageItems = 64;   // staged per shard before a push
constexpr std::size_t kPopBurst = 256;
// A shard that got no packets is sent a watermark when stream time moved on this much.
constexpr std::int64_t kWatermarkEveryNs = 10 * kNanosPerSecond / 1000;  // 10 ms

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Maps a 64-bit hash onto [0, n) without a division (Lemire's multiply-shift).
inline std::size_t ShardOf(std::uint64_t hash, std::size_t n) {
  return static_cast<std::size_t>(((hash >> 32) * n) >> 32);
}

}  // namespace

struct ShardedPipeline::Shard {
  Shard(unsigned shard_index, const PipelineOptions& options, std::uint64_t capacity,
        FlowSink* flow_sink)
      : index(shard_index),
        ring(kRingItems),
        table(options, capacity, flow_sink),
        sink(flow_sink) {}
  unsigned index;
  SpscRing<capture::PacketMeta> ring;
  FlowTable table;
  FlowSink* sink;
  ShardCounters counters;
  // Producer-side state (touched only by the producer thread).
  alignas(kCacheLine) std::array<capture::PacketMeta, kStageItems> stage;
  std::size_t staged = 0;
  std::int64_t last_sent_ns = 0;
  std::thread thread;
};

ShardedPipeline::ShardedPipeline(const PipelineOptions& options, std::vector<FlowSink*> sinks,
                                 Backpressure backpressure)
    : backpressure_(backpressure) {
  const std::size_t n = sinks.empty() ? 1 : sinks.size();
  const std::uint64_t per_shard = options.flow_capacity / n;
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>(static_cast<unsigned>(i), options, per_shard,
                                              sinks.empty() ? nullptr : sinks[i]));
  }
  for (auto& s : shards_) s->thread = std::thread(WorkerLoop, s.get(), &done_);
}

ShardedPipeline::~ShardedPipeline() {
  Finish();
}

const FlowTableCounters& ShardedPipeline::table_counters(unsigned shard) const {
  return shards_[shard]->table.counters();
}
const ShardCounters& ShardedPipeline::shard_counters(unsigned shard) const {
  return shards_[shard]->counters;
}

void ShardedPipeline::Push(Shard& shard, std::span<const capture::PacketMeta> items) noexcept {
  std::size_t done = shard.ring.PushBurst(items);
  if (done == items.size()) return;
  if (backpressure_ == Backpressure::kDrop) {
    std::uint64_t lost = 0;  // a watermark that does not fit is no loss: the next one will do
    for (const capture::PacketMeta& m : items.subspan(done)) {
      lost += (m.flags & capture::kMetaWatermark) == 0 ? 1 : 0;
    }
    shard.counters.ring_full_drops.Add(lost);
    return;
  }
  for (unsigned spins = 0; done < items.size(); ++spins) {
    if (spins < 64) {
      CpuRelax();
    } else {
      std::this_thread::yield();  // on few cores the worker needs this one to run
    }
    done += shard.ring.PushBurst(items.subspan(done));
  }
}

void ShardedPipeline::FlushStage(Shard& shard) noexcept {
  if (shard.staged == 0) return;
  Push(shard, std::span<const capture::PacketMeta>(shard.stage.data(), shard.staged));
  shard.staged = 0;
}

void ShardedPipeline::Dispatch(std::span<const capture::PacketMeta> packets) noexcept {
  if (packets.empty()) return;
  const std::size_t n = shards_.size();
  if (n == 1) {
    // One shard: straight into its ring, no staging copy; the worker hashes (flow_hash is 0
    // from the decoder), off the capture thread.
    Push(*shards_[0], packets);
    return;
  }
  for (const capture::PacketMeta& m : packets) {
    const std::uint64_t hash = SymmetricFlowHash(m);
    // High bits pick the shard, low bits the slot: independent.
    Shard& s = *shards_[ShardOf(hash, n)];
    s.stage[s.staged] = m;
    s.stage[s.staged++].flow_hash = static_cast<std::uint32_t>(hash);
    if (s.staged == kStageItems) FlushStage(s);
  }
  const std::int64_t now = packets.back().ts.ns;
  for (auto& sp : shards_) {
    Shard& s = *sp;
    if (s.staged > 0) {
      s.last_sent_ns = now;
      FlushStage(s);
    } else if (now - s.last_sent_ns >= kWatermarkEveryNs) {
      capture::PacketMeta mark;
      mark.ts = packets.back().ts;
      mark.flags = capture::kMetaWatermark;
      s.last_sent_ns = now;
      Push(s, std::span<const capture::PacketMeta>(&mark, 1));
    }
  }
}

void ShardedPipeline::Heartbeat(StreamTime now) noexcept {
  for (auto& sp : shards_) {
    Shard& s = *sp;
    FlushStage(s);
    capture::PacketMeta mark;
    mark.ts = now;
    mark.flags = capture::kMetaWatermark;
    s.last_sent_ns = now.ns;
    Push(s, std::span<const capture::PacketMeta>(&mark, 1));
  }
}

void ShardedPipeline::Finish() {
  if (finished_) return;
  finished_ = true;
  for (auto& s : shards_) FlushStage(*s);
  // Release: every push above happens-before a worker that sees done == true.
  done_.store(true, std::memory_order_release);
  for (auto& s : shards_) {
    if (s->thread.joinable()) s->thread.join();
  }
}

void ShardedPipeline::WorkerLoop(Shard* shard, const std::atomic<bool>* done) {
  // Named so that top -H and perf show which thread is which (15 characters at most).
  pthread_setname_np(pthread_self(), ("wb-shard-" + std::to_string(shard->index)).c_str());
  unsigned idle = 0;
  for (;;) {
    // Accounted where they lie in the ring: a copy out would cost as much as the accounting.
    std::span<capture::PacketMeta> got = shard->ring.PeekBurst(kPopBurst);
    if (got.empty()) {
      if (done->load(std::memory_order_acquire)) {
        got = shard->ring.PeekBurst(kPopBurst);  // anything pushed before done was set
        if (got.empty()) break;
      } else {
        ++idle;
        if (idle < 64) {
          CpuRelax();
        } else if (idle < 4096) {
          std::this_thread::yield();
        } else {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        continue;
      }
    }
    idle = 0;
    shard->table.AccountBurst(got);
    StreamTime latest = got[0].ts;
    for (const capture::PacketMeta& m : got) latest = latest < m.ts ? m.ts : latest;
    shard->ring.Release(got.size());
    shard->table.AdvanceTo(latest);
    if (shard->sink != nullptr) {
      shard->sink->OnWatermark(StreamTime::FromNanos(latest.ns - kUpdateWatermarkLagNs));
    }
  }
  shard->table.FlushAll();
}

}  // namespace weighbridge::analytics
