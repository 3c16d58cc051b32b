// Unique TCP payload per direction, from sequence numbers: retransmissions count once,
// out-of-order segments count when they arrive, sequence numbers wrap, and a flow whose start
// was not seen starts counting at the first segment seen.
#pragma once

#include <array>
#include <cstdint>

namespace weighbridge::analytics {

// Sequence-space comparisons modulo 2^32 (RFC 1982 style): a is before b when b - a, taken as a
// signed 32-bit value, is positive.
inline bool SeqBefore(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

// State of one direction. Fixed size, no allocation: holes below the highest byte seen are
// kept in a small array; when more holes open than it holds, the oldest is given up (its bytes,
// if they arrive later, are not counted — a bounded undercount, never an overcount).
class TcpPayloadTracker {
 public:
  static constexpr int kMaxHoles = 4;
  // A jump forward this large is not a hole to wait for but a resynchronisation (a new
  // connection reusing the tuple, or a sensor that missed a window's worth of traffic).
  static constexpr std::uint32_t kMaxHole = 1u << 30;

  // Accounts a segment carrying `len` payload bytes starting at `seq` (for a SYN segment pass
  // seq + 1: the SYN occupies one sequence number). Returns the bytes not seen before.
  std::uint32_t Add(std::uint32_t seq, std::uint32_t len) noexcept {
    if (len == 0) {
      if (!started_) {
        started_ = true;
        high_ = seq;
      }
      return 0;
    }
    const std::uint32_t end = seq + len;
    if (!started_) {
      started_ = true;
      high_ = end;
      return len;
    }
    if (!SeqBefore(seq, high_)) {  // at or beyond the highest byte seen
      const std::uint32_t gap = seq - high_;
      if (gap >= kMaxHole) {
        holes_count_ = 0;
      } else if (gap > 0) {
        AddHole(high_, seq);
      }
      high_ = end;
      return len;
    }
    // Starts below high_: count the part beyond high_, and whatever fills holes below it.
    std::uint32_t fresh = 0;
    std::uint32_t below_end = end;
    if (SeqBefore(high_, end)) {
      if (end - high_ >= kMaxHole) {  // wildly beyond: resynchronise
        holes_count_ = 0;
        high_ = end;
        return len;
      }
      fresh += end - high_;
      below_end = high_;
      high_ = end;
    }
    if (holes_count_ > 0) fresh += FillHoles(seq, below_end);
    return fresh;
  }

 private:
  struct Hole {
    std::uint32_t begin;
    std::uint32_t end;
  };

  void AddHole(std::uint32_t begin, std::uint32_t end) noexcept {
    if (holes_count_ == kMaxHoles) {  // give up the oldest hole
      for (int i = 1; i < kMaxHoles; ++i) holes_[i - 1] = holes_[i];
      --holes_count_;
    }
    holes_[holes_count_++] = Hole{begin, end};
  }

  // Bytes of [begin, end) that fall in holes; shrinks or splits the holes they fill.
  std::uint32_t FillHoles(std::uint32_t begin, std::uint32_t end) noexcept {
    std::uint32_t filled = 0;
    for (int i = 0; i < holes_count_;) {
      Hole h = holes_[i];
      const std::uint32_t lo = SeqBefore(begin, h.begin) ? h.begin : begin;
      const std::uint32_t hi = SeqBefore(end, h.end) ? end : h.end;
      if (!SeqBefore(lo, hi)) {
        ++i;
        continue;
      }
      filled += hi - lo;
      const bool keep_left = SeqBefore(h.begin, lo);
      const bool keep_right = SeqBefore(hi, h.end);
      if (keep_left && keep_right) {
        holes_[i] = Hole{h.begin, lo};
        if (holes_count_ < kMaxHoles) {
          holes_[holes_count_++] = Hole{hi, h.end};
        }  // else: the right part is given up (bounded undercount)
        ++i;
      } else if (keep_left) {
        holes_[i++] = Hole{h.begin, lo};
      } else if (keep_right) {
        holes_[i++] = Hole{hi, h.end};
      } else {
        for (int j = i + 1; j < holes_count_; ++j) holes_[j - 1] = holes_[j];
        --holes_count_;
      }
    }
    return filled;
  }

  std::uint32_t high_ = 0;  // one past the highest sequence number seen
  std::array<Hole, kMaxHoles> holes_{};
  std::uint8_t holes_count_ = 0;
  bool started_ = false;
};

}  // namespace weighbridge::analytics
