// UpdateMerger: puts the flow updates of N shard workers into one deterministic order — by event
// time (FlowUpdate::at), then flow id — for consumers that need a single view: the sessionizer,
// the detectors, the flows-out writer. Each shard writes into its own inbox (an SPSC ring behind
// a FlowSink); one merger thread releases an update once every shard's watermark has passed its
// event time, so the order does not depend on thread timing or on the number of shards.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/core/counter.h"

namespace weighbridge::analytics {

class UpdateMerger {
 public:
  // `downstream` is called only on the merger's own thread.
  UpdateMerger(unsigned shards, FlowSink* downstream);
  ~UpdateMerger();
  UpdateMerger(const UpdateMerger&) = delete;
  UpdateMerger& operator=(const UpdateMerger&) = delete;

  // One sink per shard, to give to ShardedPipeline; inbox i must be used by one thread only.
  std::vector<FlowSink*> inboxes();
  // Call after the producers have finished (ShardedPipeline::Finish): delivers everything left,
  // in order, and joins the merger thread. Idempotent.
  void Finish();

  // Updates that arrived after the merge had already passed their event time (a capture more
  // out of order than kUpdateWatermarkLagNs); they are delivered at once, out of order.
  std::uint64_t late_updates() const { return late_updates_.Get(); }

 private:
  class Inbox;
  void Run();

  FlowSink* downstream_;
  std::vector<std::unique_ptr<Inbox>> inboxes_;
  std::atomic<bool> done_{false};
  RelaxedCounter late_updates_;
  std::thread thread_;
  bool finished_ = false;
};

}  // namespace weighbridge::analytics
