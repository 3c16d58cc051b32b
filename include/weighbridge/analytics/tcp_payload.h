// Unique TCP payload per direction, from sequence numbers: retransmissions count once,
// an out-of-order segment counts when it arrives, sequence numbers wrap, and a flow whose start
// was not seen starts counting at the first segment seen.
#pragma once

#include <cstdint>

namespace weighbridge::analytics {

// Sequence-space comparison modulo 2^32: a is before b when b - a, as a signed 32-bit value, is
// positive.
inline bool SeqBefore(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

// One direction's state: 12 bytes, kept inside the flow-table slot (memory per flow is a budget).
// It remembers the highest byte seen and ONE hole below it. When a second hole opens before the
// first is filled, the older hole is given up: if its bytes arrive later they are not counted.
// That is a bounded undercount (never an overcount), and needs two simultaneous gaps in what the
// sensor saw, i.e. loss before the sensor in two places within one window.
struct TcpPayloadTracker {
  // A jump forward this large is not a hole to wait for but a resynchronisation (a new
  // connection reusing the tuple, or a sensor that missed a window's worth of traffic).
  static constexpr std::uint32_t kMaxHole = 1u << 30;

  std::uint32_t high = 0;        // one past the highest sequence number seen
  std::uint32_t hole_begin = 0;  // the hole is [hole_begin, hole_end); empty when equal
  std::uint32_t hole_end = 0;

  // Accounts a segment of `len` payload bytes starting at `seq` (for a SYN pass seq + 1: the SYN
  // occupies one sequence number). `started` is the caller's bit for "high is valid".
  // Returns the bytes not counted before.
  std::uint32_t Add(std::uint32_t seq, std::uint32_t len, bool* started) noexcept {
    const std::uint32_t end = seq + len;
    if (!*started) {
      *started = true;
      high = end;
      return len;
    }
    if (len == 0) return 0;
    if (!SeqBefore(seq, high)) {  // at or beyond the highest byte seen
      const std::uint32_t gap = seq - high;
      if (gap >= kMaxHole) {
        hole_begin = hole_end = 0;
      } else if (gap > 0) {
        hole_begin = high;  // replaces (gives up) any older hole
        hole_end = seq;
      }
      high = end;
      return len;
    }
    std::uint32_t fresh = 0;
    std::uint32_t below_end = end;
    if (SeqBefore(high, end)) {
      if (end - high >= kMaxHole) {  // wildly beyond: resynchronise
        hole_begin = hole_end = 0;
        high = end;
        return len;
      }
      fresh = end - high;
      below_end = high;
      high = end;
    }
    if (hole_begin != hole_end) fresh += FillHole(seq, below_end);
    return fresh;
  }

 private:
  std::uint32_t FillHole(std::uint32_t begin, std::uint32_t end) noexcept {
    const std::uint32_t lo = SeqBefore(begin, hole_begin) ? hole_begin : begin;
    const std::uint32_t hi = SeqBefore(end, hole_end) ? end : hole_end;
    if (!SeqBefore(lo, hi)) return 0;
    if (lo == hole_begin) {
      hole_begin = hi;  // filled from the left (the usual case: retransmission in order)
    } else if (hi == hole_end) {
      hole_end = lo;
    } else {
      hole_end = lo;  // a segment in the middle: keep the left part (the right part is given up)
    }
    return hi - lo;
  }
};

}  // namespace weighbridge::analytics
