#include "weighbridge/core/spsc_ring.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

namespace weighbridge {
namespace {

TEST(SpscRing, RoundsCapacityUpAndRefusesWhenFull) {
  SpscRing<int> ring(5);
  EXPECT_EQ(ring.capacity(), 8u);
  std::array<int, 10> in{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(ring.PushBurst(in), 8u);
  EXPECT_EQ(ring.PushBurst(std::span<const int>(in).subspan(8)), 0u);
  std::array<int, 3> out{};
  auto got = ring.PopBurst(out);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], 0);
  EXPECT_EQ(got[2], 2);
  EXPECT_EQ(ring.PushBurst(std::span<const int>(in).subspan(8)), 2u);
  EXPECT_EQ(ring.SizeApprox(), 7u);
}

TEST(SpscRing, PeekGivesContiguousPiecesInPlaceUntilReleased) {
  SpscRing<int> ring(8);
  std::array<int, 6> a{0, 1, 2, 3, 4, 5};
  ASSERT_EQ(ring.PushBurst(a), 6u);
  std::array<int, 6> out{};
  ASSERT_EQ(ring.PopBurst(std::span<int>(out).first(5)).size(), 5u);  // head at 5
  std::array<int, 5> b{6, 7, 8, 9, 10};
  ASSERT_EQ(ring.PushBurst(b), 5u);  // slots 6, 7, then wraps to 0, 1, 2
  auto first = ring.PeekBurst(100);
  ASSERT_EQ(first.size(), 3u);  // 5, 6, 7: up to the end of the array
  EXPECT_EQ(first[0], 5);
  EXPECT_EQ(first[2], 7);
  first[1] = 60;                          // the consumer may modify what it holds
  EXPECT_EQ(ring.PeekBurst(100)[1], 60);  // not released: the same items again
  ring.Release(3);
  EXPECT_EQ(ring.PushBurst(a), 5u);  // 8 slots less the 3 still held (8, 9, 10)
  auto second = ring.PeekBurst(2);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0], 8);
  EXPECT_EQ(second[1], 9);
}

TEST(SpscRing, TwoThreadsPassEveryItemInOrder) {
  SpscRing<std::uint64_t> ring(64);
  constexpr std::uint64_t kItems = 2'000'000;
  std::thread producer([&] {
    std::array<std::uint64_t, 16> batch{};
    for (std::uint64_t next = 0; next < kItems;) {
      std::size_t n = 0;
      for (; n < batch.size() && next + n < kItems; ++n) batch[n] = next + n;
      std::size_t pushed = 0;
      while (pushed < n) {
        pushed += ring.PushBurst(std::span<const std::uint64_t>(batch.data() + pushed, n - pushed));
        if (pushed < n) std::this_thread::yield();
      }
      next += n;
    }
  });
  std::array<std::uint64_t, 32> out{};
  std::uint64_t expect = 0;
  bool in_order = true;
  while (expect < kItems) {
    auto got = ring.PopBurst(out);
    if (got.empty()) std::this_thread::yield();
    for (std::uint64_t v : got) in_order = in_order && v == expect++;
  }
  producer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expect, kItems);
}

}  // namespace
}  // namespace weighbridge
