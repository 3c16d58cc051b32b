// SpscRing: a bounded single-producer/single-consumer ring of trivially copyable items.
// Power-of-two capacity, batch push and pop, head and tail on separate cache lines, and each side
// caches the other's index so that a burst costs one acquire load, not one per item.
// Exactly one thread may push and exactly one (other) thread may pop.
#pragma once

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

#include "weighbridge/core/units.h"

namespace weighbridge {

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit SpscRing(std::size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        mask_(capacity_ - 1),
        items_(std::make_unique<T[]>(capacity_)) {}
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const { return capacity_; }

  // Producer: copies as many of `items` as fit; returns how many.
  std::size_t PushBurst(std::span<const T> items) noexcept {
    const std::uint64_t tail = producer_.tail.load(std::memory_order_relaxed);
    std::size_t free_slots = capacity_ - static_cast<std::size_t>(tail - producer_.cached_head);
    if (free_slots < items.size()) {
      // Acquire pairs with the consumer's release store of head: its reads of those slots are done.
      producer_.cached_head = consumer_.head.load(std::memory_order_acquire);
      free_slots = capacity_ - static_cast<std::size_t>(tail - producer_.cached_head);
    }
    const std::size_t n = items.size() < free_slots ? items.size() : free_slots;
    for (std::size_t i = 0; i < n; ++i) items_[(tail + i) & mask_] = items[i];
    // Release publishes the item writes above before the consumer can see the new tail.
    producer_.tail.store(tail + n, std::memory_order_release);
    return n;
  }

  // Consumer: moves up to out.size() items into `out`; returns the filled prefix.
  std::span<T> PopBurst(std::span<T> out) noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    std::size_t avail = static_cast<std::size_t>(consumer_.cached_tail - head);
    if (avail < out.size()) {
      consumer_.cached_tail = producer_.tail.load(std::memory_order_acquire);
      avail = static_cast<std::size_t>(consumer_.cached_tail - head);
    }
    const std::size_t n = out.size() < avail ? out.size() : avail;
    for (std::size_t i = 0; i < n; ++i) out[i] = items_[(head + i) & mask_];
    consumer_.head.store(head + n, std::memory_order_release);
    return out.first(n);
  }

  // Consumer: the next items, in place, up to `max` and up to the end of the array (one
  // contiguous piece; call again after Release for the rest). They stay the consumer's to read
  // and modify until Release(n) hands the first n back to the producer. No copy.
  std::span<T> PeekBurst(std::size_t max) noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    std::size_t avail = static_cast<std::size_t>(consumer_.cached_tail - head);
    if (avail < max) {
      consumer_.cached_tail = producer_.tail.load(std::memory_order_acquire);
      avail = static_cast<std::size_t>(consumer_.cached_tail - head);
    }
    const std::size_t start = static_cast<std::size_t>(head) & mask_;
    std::size_t n = avail < max ? avail : max;
    if (n > capacity_ - start) n = capacity_ - start;
    return std::span<T>(items_.get() + start, n);
  }
  void Release(std::size_t n) noexcept {
    // Release: our reads of these slots happen-before the producer reuses them.
    consumer_.head.store(consumer_.head.load(std::memory_order_relaxed) + n,
                         std::memory_order_release);
  }

  // Either side, approximate: items in the ring right now.
  std::size_t SizeApprox() const noexcept {
    return static_cast<std::size_t>(producer_.tail.load(std::memory_order_acquire) -
                                    consumer_.head.load(std::memory_order_acquire));
  }

 private:
  // 64-bit indices never wrap in practice (2^64 items), so tail - head is always the fill level.
  struct alignas(kCacheLine) ProducerSide {
    std::atomic<std::uint64_t> tail{0};
    std::uint64_t cached_head = 0;
  };
  struct alignas(kCacheLine) ConsumerSide {
    std::atomic<std::uint64_t> head{0};
    std::uint64_t cached_tail = 0;
  };
  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<T[]> items_;
  ProducerSide producer_;
  ConsumerSide consumer_;
};

}  // namespace weighbridge
