#include "weighbridge/core/ip.h"

#include <arpa/inet.h>

#include <charconv>

namespace weighbridge {

IpAddress IpAddress::Masked(int bits) const {
  const int abs_bits = IsV4() ? bits + 96 : bits;
  IpAddress m = *this;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(abs_bits - i * 8, 0, 8);
    m.bytes[i] &= static_cast<std::uint8_t>(0xff00 >> keep);
  }
  return m;
}

std::string EndpointString(const IpAddress& address, std::uint16_t port) {
  const std::string host = address.IsV4() ? address.ToString() : "[" + address.ToString() + "]";
  return host + ":" + std::to_string(port);
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (IsV4()) {
    inet_ntop(AF_INET, &bytes[12], buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  }
  return buf;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  const std::string s(text);
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return V4Bytes(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return V6Bytes(buf);
  return std::nullopt;
}

bool Prefix::Contains(const IpAddress& a) const {
  return a.IsV4() == network.IsV4() && a.Masked(length) == network;
}

std::string Prefix::ToString() const {
  return network.ToString() + "/" + std::to_string(length);
}

std::optional<Prefix> Prefix::Parse(std::string_view text, std::string* why) {
  auto fail = [&](std::string msg) -> std::optional<Prefix> {
    if (why != nullptr) *why = std::move(msg);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  const auto addr = IpAddress::Parse(text.substr(0, slash));
  if (!addr) return fail("not an IPv4 or IPv6 address");
  const int max_len = addr->IsV4() ? 32 : 128;
  int len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = text.substr(slash + 1);
    const auto* end = len_text.data() + len_text.size();
    auto [p, ec] = std::from_chars(len_text.data(), end, len);
    if (len_text.empty() || ec != std::errc() || p != end || len < 0 || len > max_len) {
      return fail("prefix length must be 0-" + std::to_string(max_len));
    }
  }
  Prefix out{addr->Masked(len), len};
  if (out.network != *addr) return fail("host bits set after /" + std::to_string(len));
  return out;
}

}  // namespace weighbridge
