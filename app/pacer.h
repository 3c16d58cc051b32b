// Pacing by capture timestamps: replay --speed and the daemon's synthetic sources hand packets on
// no sooner than their capture time allows, so scrapes and receivers see them as live traffic.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <thread>

#include "weighbridge/analytics/pipeline.h"
#include "weighbridge/capture/packet_meta.h"

namespace weighbridge::app {

// Hands packets on no sooner than their capture time allows at the requested speed.
class Pacer {
 public:
  explicit Pacer(double speed) : speed_(speed) {}
  bool enabled() const { return speed_ > 0; }
  // How many of `packets` may go now; sleeps (in slices, watching `stop`) until at least one may.
  std::size_t Admit(std::span<const capture::PacketMeta> packets, const std::atomic<bool>& stop) {
    if (packets.empty()) return 0;
    if (!started_) {
      started_ = true;
      first_ns_ = packets.front().ts.ns;
      wall_start_ = std::chrono::steady_clock::now();
    }
    for (;;) {
      const auto allowed_ns = static_cast<std::int64_t>(
          static_cast<double>((std::chrono::steady_clock::now() - wall_start_).count()) * speed_);
      std::size_t n = 0;
      while (n < packets.size() && packets[n].ts.ns - first_ns_ <= allowed_ns) ++n;
      if (n > 0 || stop.load(std::memory_order_relaxed)) return n;
      const auto wait = std::chrono::nanoseconds(static_cast<std::int64_t>(
          static_cast<double>(packets.front().ts.ns - first_ns_ - allowed_ns) / speed_));
      std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
          wait + std::chrono::microseconds(100), std::chrono::milliseconds(100)));
    }
  }

 private:
  double speed_;
  bool started_ = false;
  std::int64_t first_ns_ = 0;
  std::chrono::steady_clock::time_point wall_start_;
};

// Dispatches `packets` as the pacer admits them. Stopped while pacing, the packets already read
// are dispatched all the same, so that what the source counted as read is what was accounted (a
// resumed replay starts right after them).
inline void DispatchPaced(analytics::ShardedPipeline& pipeline,
                          std::span<const capture::PacketMeta> packets, Pacer& pacer,
                          const std::atomic<bool>& stop) {
  while (!packets.empty()) {
    const std::size_t n =
        stop.load(std::memory_order_relaxed) ? packets.size() : pacer.Admit(packets, stop);
    pipeline.Dispatch(packets.first(n));
    packets = packets.subspan(n);
  }
}

}  // namespace weighbridge::app
