// Units shared by every module: stream time, wall time and the cache-line size.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>

namespace weighbridge {

// Destructive-interference size for x86-64 and most ARM servers. Per-shard state is aligned to it
// so that two writers never share a line.
inline constexpr std::size_t kCacheLine = 64;

// Packet time: nanoseconds since the Unix epoch, taken from the capture's timestamps. All
// pipeline logic (timeouts, windows, gaps) runs on it, never on the wall clock, so a replay gives
// the same answer at any speed. A distinct type from WallTime so that mixing them does not compile.
struct StreamTime {
  std::int64_t ns = 0;
  friend constexpr auto operator<=>(StreamTime, StreamTime) = default;
  static constexpr StreamTime FromNanos(std::int64_t n) { return StreamTime{n}; }
  static constexpr StreamTime FromMicros(std::int64_t us) { return StreamTime{us * 1000}; }
};

// Wall-clock time, nanoseconds since the Unix epoch. Used only for I/O: scrapes, retries, flushes.
struct WallTime {
  std::int64_t ns = 0;
  friend constexpr auto operator<=>(WallTime, WallTime) = default;
};

inline constexpr std::int64_t kNanosPerMicro = 1000;
inline constexpr std::int64_t kNanosPerSecond = 1000 * 1000 * 1000;

}  // namespace weighbridge
