// Small, fast, well-mixed hashes for table keys and stable ids. Not cryptographic.
#pragma once

#include <cstdint>
#include <cstring>

#include "weighbridge/core/ip.h"

namespace weighbridge {

// The splitmix64 finaliser: every input bit affects every output bit.
inline std::uint64_t Mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t HashAddress(const IpAddress& a) {
  std::uint64_t w[2];
  std::memcpy(w, a.bytes.data(), 16);
  return Mix64(w[0] ^ Mix64(w[1]));
}

}  // namespace weighbridge
