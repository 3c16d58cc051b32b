#include "weighbridge/analytics/update_merger.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <queue>
#include <span>

#include "weighbridge/core/spsc_ring.h"

namespace weighbridge::analytics {

namespace {

constexpr std::size_t kInboxItems = 16384;  // ~2 MiB per shard: room for a sweep's worth of ends
constexpr std::size_t kPopBurst = 128;
// Watermarks closer together than this are not worth a ring slot.
constexpr std::int64_t kWatermarkStepNs = kNanosPerSecond / 100;

struct Item {
  FlowUpdate update;
  std::int64_t watermark_ns = 0;
  bool is_watermark = false;
};

struct Pending {
  FlowUpdate update;
  std::uint64_t seq;  // arrival order: breaks ties between updates of one flow (one shard)
  bool operator>(const Pending& o) const {
    if (update.at != o.update.at) return o.update.at < update.at;
    if (update.flow_id != o.update.flow_id) return update.flow_id > o.update.flow_id;
    return seq > o.seq;
  }
};

}  // namespace

class UpdateMerger::Inbox : public FlowSink {
 public:
  Inbox() : ring_(kInboxItems) {}

  void OnFlowUpdate(const FlowUpdate& u) override {
    Item item;
    item.update = u;
    Push(item);
  }
  void OnWatermark(StreamTime w) override {
    if (w.ns < last_watermark_ns_ + kWatermarkStepNs) return;
    last_watermark_ns_ = w.ns;
    Item item;
    item.is_watermark = true;
    item.watermark_ns = w.ns;
    Push(item);
  }
  std::span<Item> Pop(std::span<Item> out) { return ring_.PopBurst(out); }

 private:
  // Blocks while the merger catches up: updates are never dropped.
  void Push(const Item& item) {
    while (ring_.PushBurst(std::span<const Item>(&item, 1)) == 0) std::this_thread::yield();
  }
  SpscRing<Item> ring_;
  std::int64_t last_watermark_ns_ = INT64_MIN / 2;
};

UpdateMerger::UpdateMerger(unsigned shards, FlowSink* downstream) : downstream_(downstream) {
  for (unsigned i = 0; i < std::max(1u, shards); ++i) inboxes_.push_back(std::make_unique<Inbox>());
  thread_ = std::thread(&UpdateMerger::Run, this);
}

UpdateMerger::~UpdateMerger() {
  Finish();
}

std::vector<FlowSink*> UpdateMerger::inboxes() {
  std::vector<FlowSink*> out;
  for (auto& i : inboxes_) out.push_back(i.get());
  return out;
}

void UpdateMerger::Finish() {
  if (finished_) return;
  finished_ = true;
  done_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void UpdateMerger::Run() {
  pthread_setname_np(pthread_self(), "wb-merge");
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> heap;
  std::vector<std::int64_t> watermark(inboxes_.size(), INT64_MIN);
  std::array<Item, kPopBurst> buf;
  std::uint64_t seq = 0;
  std::int64_t released_to = INT64_MIN;
  unsigned idle = 0;
  for (;;) {
    // Read done before draining: whatever was pushed before done was set is then visible.
    const bool last_round = done_.load(std::memory_order_acquire);
    bool got_any = false;
    for (std::size_t i = 0; i < inboxes_.size(); ++i) {
      for (;;) {
        const std::span<Item> items = inboxes_[i]->Pop(buf);
        if (items.empty()) break;
        got_any = true;
        for (const Item& it : items) {
          if (it.is_watermark) {
            watermark[i] = std::max(watermark[i], it.watermark_ns);
          } else if (it.update.at.ns < released_to) {
            late_updates_.Add(1);
            downstream_->OnFlowUpdate(it.update);
          } else {
            heap.push(Pending{it.update, seq++});
          }
        }
      }
    }
    const std::int64_t release =
        last_round ? INT64_MAX : *std::min_element(watermark.begin(), watermark.end());
    while (!heap.empty() && heap.top().update.at.ns <= release) {
      downstream_->OnFlowUpdate(heap.top().update);
      heap.pop();
    }
    if (release > released_to && release != INT64_MAX) {
      released_to = release;
      downstream_->OnWatermark(StreamTime::FromNanos(release));
    }
    if (last_round) break;
    // Nothing here is latency-critical (updates wait for watermarks anyway), and on a small
    // machine a spinning merger takes the core the capture thread needs: sleep when idle.
    if (got_any) {
      idle = 0;
    } else if (++idle < 4) {
      std::this_thread::yield();
    } else {
      // 100 us while updates were flowing a moment ago, 1 ms once it has been quiet for a while:
      // an inbox holds well over a millisecond of updates.
      std::this_thread::sleep_for(std::chrono::microseconds(idle < 100 ? 100 : 1000));
    }
  }
}

}  // namespace weighbridge::analytics
