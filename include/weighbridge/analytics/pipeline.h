// ShardedPipeline: the flow aggregator. One producer thread (the capture loop) hands PacketMeta
// to N shard workers through one SPSC ring each, choosing the shard by a symmetric hash of the
// flow so both directions meet in one table. Each worker is the only writer of its FlowTable
// and calls only its own FlowSink. No locks and no allocation on the packet path.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/flow_table.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/counter.h"
#include "weighbridge/core/spsc_ring.h"

namespace weighbridge::analytics {

// What the producer does when a shard's ring is full.
enum class Backpressure : std::uint8_t {
  kBlock,  // wait (replay: results are exact and repeatable)
  kDrop,   // drop and count in ring_full_drops (live capture: never stall the capture thread)
};

struct alignas(kCacheLine) ShardCounters {
  RelaxedCounter ring_full_drops;  // packets dropped because this shard's ring was full
};

class ShardedPipeline {
 public:
  // `sinks` has one sink per worker (options.workers of them); sinks[i] is called only on
  // worker i's thread. Each worker's table holds flow_capacity / workers flows.
  ShardedPipeline(const PipelineOptions& options, std::vector<FlowSink*> sinks,
                  Backpressure backpressure);
  ~ShardedPipeline();
  ShardedPipeline(const ShardedPipeline&) = delete;
  ShardedPipeline& operator=(const ShardedPipeline&) = delete;

  // Producer thread only. Hands a burst of packets to their shards.
  void Dispatch(std::span<const capture::PacketMeta> packets) noexcept;
  // Producer thread only. Tells every shard that stream time has reached `now` although no
  // packet says so: a live source calls it while its link is silent, so flows still time out
  // and watermarks still advance. `now` must not be earlier than the packets dispatched so far.
  void Heartbeat(StreamTime now) noexcept;
  // Producer thread only. Delivers everything staged, lets the workers drain their rings and
  // flush every flow to their sinks, and joins them. Idempotent.
  void Finish();

  unsigned workers() const { return static_cast<unsigned>(shards_.size()); }
  // Safe from any thread (relaxed counters).
  const FlowTableCounters& table_counters(unsigned shard) const;
  const ShardCounters& shard_counters(unsigned shard) const;

 private:
  struct Shard;
  void Push(Shard& shard, std::span<const capture::PacketMeta> items) noexcept;
  void FlushStage(Shard& shard) noexcept;
  static void WorkerLoop(Shard* shard, const std::atomic<bool>* done);

  Backpressure backpressure_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> done_{false};
  bool finished_ = false;
};

}  // namespace weighbridge::analytics
