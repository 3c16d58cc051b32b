// A counter with exactly one writer thread that other threads may read at any time (telemetry at
// scrape time). The writer does a relaxed load and store, never a fetch_add: no locked
// instruction on the packet path, and no shared cache line when the owner is aligned.
#pragma once

#include <atomic>
#include <cstdint>

namespace weighbridge {

class RelaxedCounter {
 public:
  void Add(std::uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Set(std::uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  std::uint64_t Get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace weighbridge
