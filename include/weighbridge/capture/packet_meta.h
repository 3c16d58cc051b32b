// PacketMeta: what the capture front end hands to analytics for each accounted IP packet.
// Compact, fixed size, trivially copyable, with no pointer into the frame, so it can cross an
// SPSC ring by value.
#pragma once

#include <cstdint>
#include <type_traits>

#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture {

// Which side of the site's edge each end is on, from `site.inside` by longest-prefix match.
enum class Direction : std::uint8_t {
  kInbound,   // outside -> inside
  kOutbound,  // inside -> outside
  kInternal,  // inside -> inside (east-west)
  kTransit,   // outside -> outside
  kCount
};
const char* DirectionName(Direction d);  // "inbound", "outbound", "internal", "transit"

// Bits of PacketMeta::flags.
inline constexpr std::uint8_t kMetaIpv6 = 1 << 0;           // the accounted packet is IPv6
inline constexpr std::uint8_t kMetaFragment = 1 << 1;       // an IP fragment (first or not)
inline constexpr std::uint8_t kMetaLaterFragment = 1 << 2;  // a non-first fragment: no L4 header
inline constexpr std::uint8_t kMetaTunnelled = 1 << 3;      // decapsulated from a known tunnel
// Not a packet: a stream-time watermark the dispatcher sends to a shard that got no packets for
// a while, so its timeouts advance with everyone else's. Only `ts` is meaningful.
inline constexpr std::uint8_t kMetaWatermark = 1 << 4;

// TCP flag bits as on the wire (byte 13 of the TCP header).
inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;

struct PacketMeta {
  StreamTime ts; /**< capture timestamp, ns since the epoch */
  IpAddress src; /**< source address of the accounted (innermost by default) IP packet */
  IpAddress dst; /**< destination address */
  std::uint32_t l3_bytes =
      0; /**< bytes: IPv4 total length, IPv6 payload length + 40 (jumbo: real length) */
  std::uint32_t wire_bytes = 0; /**< bytes: the frame's original length on the wire */
  std::uint32_t payload_bytes =
      0;                     /**< bytes: transport payload length claimed by this packet's headers
                                  (TCP: after the TCP header; UDP: after the UDP header; else 0),
                                  limited by the L3 length, not by the captured length */
  std::uint32_t tcp_seq = 0; /**< TCP sequence number (0 when not TCP) */
  std::uint32_t tcp_ack = 0; /**< TCP acknowledgement number */
  std::uint32_t sample_weight = 1; /**< packets this one stands for (1 unless sampled) */
  std::uint16_t src_port =
      0; /**< L4 source port; ICMP: 0; later fragments: from the first fragment if seen */
  std::uint16_t dst_port = 0; /**< L4 destination port */
  std::uint16_t vlan = 0;     /**< outermost 802.1Q/802.1ad VLAN id, 0 when untagged */
  std::uint16_t tenant = 0; /**< tenant index + 1 of the inside end (0: none), from site.tenants */
  std::uint8_t proto =
      0; /**< IP protocol of the transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...) */
  std::uint8_t tcp_flags = 0;                /**< TCP flags byte (FIN/SYN/RST/PSH/ACK/...) */
  Direction direction = Direction::kTransit; /**< from site.inside */
  std::uint8_t flags = 0;                    /**< kMeta* bits */
  std::uint32_t flow_hash = 0; /**< low 32 bits of analytics' symmetric flow hash, filled by the
                                    dispatcher (0: not computed yet); uses what was padding */
};
static_assert(std::is_trivially_copyable_v<PacketMeta>);
static_assert(sizeof(PacketMeta) == 80, "PacketMeta layout changed: check ring sizing");

}  // namespace weighbridge::capture
