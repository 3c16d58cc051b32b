// Remembers the ports of first IP fragments so that later fragments (which carry no L4 header)
// can be charged to the same flow. Owned by one Decoder; single-threaded.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture::internal {

// What identifies the fragments of one datagram (RFC 791 / RFC 8200). `proto` is the IPv4
// protocol or the IPv6 fragment header's next header, which every fragment carries the same.
struct FragmentKey {
  IpAddress src;
  IpAddress dst;
  std::uint32_t id = 0;
  std::uint8_t proto = 0;

  friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

// What a later fragment takes over from its first fragment.
struct FragmentInfo {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t l4_proto = 0;  // the transport found after any IPv6 extension headers
};

// Direct-mapped, power-of-two sized, allocated once in the constructor and never again, so the
// packet path stays allocation-free. A newer datagram that hashes to a busy slot overwrites it:
// losing an old entry only makes one of its later fragments "unmatched" (still accounted, without
// ports), which is cheaper than any eviction bookkeeping.
class FragmentTable {
 public:
  FragmentTable(std::uint32_t entries, StreamTime timeout)
      : mask_(RoundUp(entries) - 1),
        timeout_ns_(timeout.ns),
        slots_(std::make_unique<Slot[]>(std::size_t{mask_} + 1)) {}

  void Insert(const FragmentKey& key, const FragmentInfo& info, StreamTime ts) noexcept {
    Slot& s = slots_[Hash(key) & mask_];
    s.key = key;
    s.info = info;
    s.ts_ns = ts.ns;
    s.used = true;
  }

  // True and *info filled when the first fragment of `key` was seen within the timeout (either
  // side of `ts`: captures merged from several interfaces are not strictly in time order).
  bool Lookup(const FragmentKey& key, StreamTime ts, FragmentInfo* info) const noexcept {
    const Slot& s = slots_[Hash(key) & mask_];
    if (!s.used || !(s.key == key)) return false;
    const std::int64_t age = ts.ns >= s.ts_ns ? ts.ns - s.ts_ns : s.ts_ns - ts.ns;
    if (age > timeout_ns_) return false;
    *info = s.info;
    return true;
  }

  std::size_t size() const { return std::size_t{mask_} + 1; }

 private:
  struct Slot {
    FragmentKey key;
    FragmentInfo info;
    std::int64_t ts_ns = 0;
    bool used = false;
  };

  static std::uint32_t RoundUp(std::uint32_t n) {
    // Capped so that a silly option cannot ask for gigabytes; 2^24 slots is ~1.2 GB already.
    constexpr std::uint32_t kMax = 1u << 24;
    std::uint32_t p = 16;
    while (p < n && p < kMax) p <<= 1;
    return p;
  }

  static std::uint64_t Hash(const FragmentKey& k) noexcept {
    std::uint64_t words[4];
    std::memcpy(&words[0], k.src.bytes.data(), 16);
    std::memcpy(&words[2], k.dst.bytes.data(), 16);
    std::uint64_t h = (std::uint64_t{k.id} << 8) ^ k.proto;
    for (std::uint64_t w : words) {
      h ^= w;
      h *= 0x9e3779b97f4a7c15ULL;  // Fibonacci hashing: multiplies mix low key bits upwards
      h ^= h >> 29;
    }
    return h ^ (h >> 32);
  }

  std::uint32_t mask_;
  std::int64_t timeout_ns_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace weighbridge::capture::internal
