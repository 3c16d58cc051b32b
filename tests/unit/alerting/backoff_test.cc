#include <gtest/gtest.h>

#include <random>

#include "weighbridge/alerting/notifier.h"

namespace weighbridge::alerting {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsExponentiallyWithinJitterBounds) {
  RetryOptions o;
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(10000);
  o.multiplier = 2;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int failures = 1; failures <= 12; ++failures) {
    // Nominal wait computed here independently: 100 ms * 2^(failures-1), capped at 10 s.
    std::int64_t nominal = 100;
    for (int i = 1; i < failures; ++i) nominal = std::min<std::int64_t>(nominal * 2, 10000);
    for (int k = 0; k < 200; ++k) {
      const std::int64_t d = BackoffDelay(o, failures, u(rng)).count();
      EXPECT_GE(d, nominal / 2) << "failures " << failures;
      EXPECT_LE(d, nominal) << "failures " << failures;
    }
    EXPECT_EQ(BackoffDelay(o, failures, 0.0).count(), nominal / 2);
  }
}

TEST(Backoff, JitterSpreadsRetries) {
  RetryOptions o;
  o.initial_backoff = milliseconds(1000);
  const auto lo = BackoffDelay(o, 3, 0.0);
  const auto hi = BackoffDelay(o, 3, 0.999);
  EXPECT_EQ(lo.count(), 2000);
  EXPECT_GE(hi.count(), 3990);
  EXPECT_LE(hi.count(), 4000);
}

TEST(Backoff, NeverOverflowsOnLongOutages) {
  RetryOptions o;
  o.initial_backoff = milliseconds(1000);
  o.max_backoff = milliseconds(300000);
  EXPECT_LE(BackoffDelay(o, 100000, 0.999).count(), 300000);
  EXPECT_GE(BackoffDelay(o, 100000, 0.0).count(), 150000);
  EXPECT_GE(BackoffDelay(o, 0, 0.0).count(), 500);  // 0 failures reads as the first
}

}  // namespace
}  // namespace weighbridge::alerting
