// IP addresses, prefixes and a longest-prefix-match map for IPv4 and IPv6.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weighbridge {

// An IPv4 or IPv6 address in 16 bytes, network order. IPv4 is stored IPv4-mapped
// (::ffff:a.b.c.d) so that one key type serves both families. Trivially copyable.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress V4(std::uint32_t host_order) {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    a.bytes[12] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes[13] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes[14] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes[15] = static_cast<std::uint8_t>(host_order);
    return a;
  }
  static IpAddress V4Bytes(const std::uint8_t* p) {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], p, 4);
    return a;
  }
  static IpAddress V6Bytes(const std::uint8_t* p) {
    IpAddress a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  bool IsV4() const {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes.data(), kMapped, 12) == 0;
  }
  std::uint32_t V4HostOrder() const {
    return (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
           (std::uint32_t{bytes[14]} << 8) | bytes[15];
  }
  // Keeps the first `bits` bits (counted in the family's own width) and zeroes the rest.
  IpAddress Masked(int bits) const;

  std::string ToString() const;
  static std::optional<IpAddress> Parse(std::string_view text);

  // Two 64-bit compares, inlined: this sits on the flow table's probe path.
  friend bool operator==(const IpAddress& x, const IpAddress& y) {
    std::uint64_t a[2];
    std::uint64_t b[2];
    std::memcpy(a, x.bytes.data(), 16);
    std::memcpy(b, y.bytes.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }
  friend auto operator<=>(const IpAddress& x, const IpAddress& y) { return x.bytes <=> y.bytes; }
};

// "192.0.2.5:4739", "[2001:db8::5]:4739": an address and port as logs, configs and metric
// labels write them.
std::string EndpointString(const IpAddress& address, std::uint16_t port);

// A CIDR prefix. `length` counts bits in the family's own width (0-32 for IPv4, 0-128 for IPv6).
struct Prefix {
  IpAddress network;  // already masked
  int length = 0;

  bool IsV4() const { return network.IsV4(); }
  bool Contains(const IpAddress& a) const;
  std::string ToString() const;
  // Strict: the whole string must be "ADDR/LEN" or "ADDR" (a host prefix). Host bits set after
  // the length are an error, since "10.1.2.3/8" is usually a typo.
  static std::optional<Prefix> Parse(std::string_view text, std::string* why = nullptr);

  friend bool operator==(const Prefix&, const Prefix&) = default;
};

// Longest-prefix match from a small, fixed set of prefixes to values. Built once at start, then
// read-only (safe to share between threads). A lookup masks the address with two 64-bit ANDs and
// binary-searches one sorted array per distinct prefix length, longest first: a few nanoseconds
// for the handful of prefixes a site has. (This runs twice per packet, for direction.)
template <typename T>
class PrefixMap {
 public:
  void Insert(const Prefix& p, T value) {
    // The families are kept apart so that an IPv6 prefix such as ::/0 never matches IPv4.
    std::vector<Level>& levels = p.IsV4() ? v4_ : v6_;
    const int len = p.IsV4() ? p.length + 96 : p.length;
    auto it =
        std::find_if(levels.begin(), levels.end(), [&](const Level& l) { return l.len == len; });
    if (it == levels.end()) {
      Level l;
      l.len = len;
      IpAddress ones;  // not IPv4-mapped, so Masked() counts all 128 bits
      ones.bytes.fill(0xff);
      const IpAddress m = ones.Masked(len);
      std::memcpy(l.mask, m.bytes.data(), 16);
      levels.push_back(std::move(l));
      it = levels.end() - 1;
    }
    Entry e;
    std::memcpy(e.w, p.network.bytes.data(), 16);
    e.value = std::move(value);
    auto pos = std::lower_bound(it->entries.begin(), it->entries.end(), e, Less);
    if (pos != it->entries.end() && !Less(e, *pos)) {
      pos->value = std::move(e.value);
    } else {
      it->entries.insert(pos, std::move(e));
    }
    std::sort(levels.begin(), levels.end(),
              [](const Level& x, const Level& y) { return x.len > y.len; });
  }

  const T* Lookup(const IpAddress& a) const {
    std::uint64_t w[2];
    std::memcpy(w, a.bytes.data(), 16);
    for (const Level& l : a.IsV4() ? v4_ : v6_) {
      Entry key;
      key.w[0] = w[0] & l.mask[0];
      key.w[1] = w[1] & l.mask[1];
      auto pos = std::lower_bound(l.entries.begin(), l.entries.end(), key, Less);
      if (pos != l.entries.end() && pos->w[0] == key.w[0] && pos->w[1] == key.w[1]) {
        return &pos->value;
      }
    }
    return nullptr;
  }
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  struct Entry {
    std::uint64_t w[2] = {0, 0};  // the network address as loaded from memory (any fixed order)
    T value{};
  };
  static bool Less(const Entry& x, const Entry& y) {
    return x.w[0] != y.w[0] ? x.w[0] < y.w[0] : x.w[1] < y.w[1];
  }
  struct Level {
    int len = 0;  // in bits of the 128-bit (IPv4-mapped) form
    std::uint64_t mask[2] = {0, 0};
    std::vector<Entry> entries;
  };
  std::vector<Level> v4_;
  std::vector<Level> v6_;
};

}  // namespace weighbridge
