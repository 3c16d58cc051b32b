// Frame decoding: link layer, tags and labels, tunnels, IPv4/IPv6, transport -> PacketMeta.
// One Decoder per capture thread; it is the only writer of its counters.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/core/counter.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture {

// Link-layer header types, numbered as LINKTYPE_* in the pcap/pcapng file formats.
inline constexpr int kLinkNull = 0;  // BSD loopback: 4-byte host-order address family
inline constexpr int kLinkEthernet = 1;
inline constexpr int kLinkPpp = 9;
// libpcap hands out DLT_* values, which differ from LINKTYPE_* for a few types: a savefile's
// LINKTYPE_RAW (101) comes back as DLT_RAW, 12 on most systems and 14 on OpenBSD.
inline constexpr int kLinkDltRaw = 12;
inline constexpr int kLinkDltRawOpenBsd = 14;
inline constexpr int kLinkPppHdlc = 50;  // PPP in HDLC-like framing (0xff03 then protocol)
inline constexpr int kLinkRaw = 101;     // raw IPv4/IPv6, no link header
inline constexpr int kLinkLoop = 108;    // OpenBSD loopback: 4-byte network-order family
inline constexpr int kLinkLinuxSll = 113;
inline constexpr int kLinkIpv4 = 228;
inline constexpr int kLinkIpv6 = 229;
inline constexpr int kLinkLinuxSll2 = 276;

// The outcome of decoding one frame. Every value except kOk is a reason a frame was not
// accounted; each has a counter. Names (ReasonName) are a stable interface: operators grep for
// them, metrics carry them as the `reason` label, and docs/decode-reasons.md lists them.
// Never rename or renumber a shipped value; add new ones before kCount.
enum class DecodeResult : std::uint8_t {
  kOk,
  kUnsupportedLinkType,     // "unsupported_link_type": a link type we do not decode (e.g. NETLINK)
  kTruncatedLink,           // "truncated_link": the link-layer header is cut short
  kNonIp,                   // "non_ip": a well-formed frame that carries no IP (ARP, LLDP, ...)
  kTooManyVlanTags,         // "too_many_vlan_tags"
  kTooManyMplsLabels,       // "too_many_mpls_labels"
  kTruncatedIpv4,           // "truncated_ipv4": fewer captured bytes than the IPv4 header
  kBadIpv4Version,          // "bad_ip_version": the version nibble is not 4 (or 6 for IPv6)
  kBadIpv4Ihl,              // "bad_ipv4_ihl": header length below 20 bytes
  kBadIpv4TotalLength,      // "bad_ipv4_total_length": total length below the header length
  kIpLengthExceedsFrame,    // "ip_length_exceeds_frame": IP length > the frame's wire length
  kTruncatedIpv6,           // "truncated_ipv6"
  kTruncatedIpv6ExtHeader,  // "truncated_ipv6_ext_header": an extension header is cut short
  kTooManyIpv6ExtHeaders,   // "too_many_ipv6_ext_headers"
  kBadIpv6Jumbo,            // "bad_ipv6_jumbo": payload length 0 without a valid jumbo option
  kTruncatedTcp,            // "truncated_tcp": the TCP header is not all captured
  kBadTcpDataOffset,        // "bad_tcp_data_offset"
  kTruncatedUdp,            // "truncated_udp"
  kBadUdpLength,            // "bad_udp_length"
  kTruncatedIcmp,           // "truncated_icmp"
  kTruncatedTunnel,         // "truncated_tunnel": a tunnel header or the inner IP header is cut
  kUnsupportedTunnel,       // "unsupported_tunnel": a tunnel variant we cannot decode
  kTunnelTooDeep,           // "tunnel_too_deep": more nested encapsulations than we follow
  kCount
};
inline constexpr std::size_t kDecodeResultCount = static_cast<std::size_t>(DecodeResult::kCount);
std::string_view ReasonName(DecodeResult r);

enum class TunnelMode : std::uint8_t {
  kInner,  // account the innermost IP packet of a known encapsulation (default)
  kOuter,  // account the carrier packet
};

// Filled in by app/ from `decode:` and `site:`.
struct DecodeOptions {
  TunnelMode tunnels = TunnelMode::kInner;
  // Non-first IPv4/IPv6 fragments are charged to the flow of their first fragment, found by
  // (src, dst, protocol, fragment id) in a fixed table of this many entries (rounded up to a
  // power of two). Older entries are overwritten.
  std::uint32_t fragment_table_entries = 4096;
  StreamTime fragment_timeout = StreamTime::FromNanos(30 * kNanosPerSecond);
  friend bool operator==(const DecodeOptions&, const DecodeOptions&) = default;
};

// Counters of one Decoder; single writer, read anywhere.
struct alignas(kCacheLine) DecodeCounters {
  RelaxedCounter frames;      // every frame handed to Decode
  RelaxedCounter wire_bytes;  // wire length of every frame, accounted or not
  RelaxedCounter ip_packets;  // accounted IP packets (kOk)
  RelaxedCounter ipv4_packets;
  RelaxedCounter ipv6_packets;
  RelaxedCounter l3_bytes;             // L3 bytes of accounted packets
  RelaxedCounter fragments_unmatched;  // non-first fragments whose first fragment was not seen
  std::array<RelaxedCounter, kDecodeResultCount> by_reason;  // [kOk] counts accounted packets
  std::array<RelaxedCounter, static_cast<std::size_t>(Direction::kCount)> direction_packets;
  std::array<RelaxedCounter, static_cast<std::size_t>(Direction::kCount)> direction_l3_bytes;
};

namespace internal {
class FragmentTable;
}

class Decoder {
 public:
  Decoder(const DecodeOptions& options, const SiteClassifier* site);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one captured frame of `link_type`. `caplen` bytes are readable at `data`;
  // `wire_len` is the frame's original length. On kOk fills *out (including direction and tenant).
  // Every outcome is counted. Never reads past data + caplen.
  DecodeResult Decode(int link_type, const std::uint8_t* data, std::uint32_t caplen,
                      std::uint32_t wire_len, StreamTime ts, PacketMeta* out) noexcept;

  const DecodeCounters& counters() const { return counters_; }
  const DecodeOptions& options() const { return options_; }

 private:
  DecodeOptions options_;
  const SiteClassifier* site_;  // not owned; may be null (everything is transit)
  internal::FragmentTable* fragments_;
  DecodeCounters counters_;
};

}  // namespace weighbridge::capture
