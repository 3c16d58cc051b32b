// Frame decoding. Every read is checked against the captured length first (`cap_end_`), and every
// length field is checked against the wire length before it is believed (`wire_end_`); see
// docs/decode-reasons.md for what each outcome means and the decisions behind them.
#include "weighbridge/capture/decode.h"

#include <algorithm>

#include "fragment_table.h"
#include "weighbridge/core/bytes.h"

namespace weighbridge::capture {
namespace {

// Limits on nesting. Each level consumes at least 4 bytes, so the captured length bounds the work
// anyway; these limits turn pathological stacks into a named reason instead of a long walk.
constexpr int kMaxVlanTags = 4;        // QinQ is 2; 3-4 is seen in provider chains
constexpr int kMaxMplsLabels = 8;      // real stacks rarely exceed 3-4 labels
constexpr int kMaxIpv6ExtHeaders = 8;  // RFC 8200 recommends each type at most once (twice for 60)
constexpr int kMaxTunnelDepth = 4;     // GRE-in-GRE is 2
constexpr int kMaxGtpExtHeaders = 8;

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88A8;
constexpr std::uint16_t kEtherQinQOld = 0x9100;
constexpr std::uint16_t kEtherMpls = 0x8847;
constexpr std::uint16_t kEtherMplsMulticast = 0x8848;
constexpr std::uint16_t kEtherPppoeSession = 0x8864;
constexpr std::uint16_t kEtherTransparentBridging = 0x6558;
constexpr std::uint16_t kEtherErspan2 = 0x88BE;
constexpr std::uint16_t kEtherErspan3 = 0x22EB;
constexpr std::uint16_t kEtherPpp = 0x880B;

constexpr std::uint16_t kPppIpv4 = 0x0021;
constexpr std::uint16_t kPppIpv6 = 0x0057;

constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoIpip = 4;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kProtoIpv6InIp = 41;
constexpr std::uint8_t kProtoGre = 47;
constexpr std::uint8_t kProtoIcmpv6 = 58;
constexpr std::uint8_t kProtoDccp = 33;
constexpr std::uint8_t kProtoSctp = 132;
constexpr std::uint8_t kProtoUdpLite = 136;

constexpr std::uint16_t kPortVxlan = 4789;
constexpr std::uint16_t kPortGeneve = 6081;
constexpr std::uint16_t kPortGtpU = 2152;

// IPv4 total length and IPv6 payload length cannot express more than this.
constexpr std::size_t kMaxIpLengthField = 65535;

struct FragState {
  bool fragment = false;  // part of a fragmented datagram
  bool later = false;     // offset != 0: no L4 header here
  internal::FragmentKey key;
};

// One frame's decode. Lives on the stack of Decoder::Decode; all offsets are from `p_`.
class FrameParser {
 public:
  FrameParser(const DecodeOptions& options, internal::FragmentTable* fragments,
              DecodeCounters* counters, const std::uint8_t* data, std::uint32_t caplen,
              std::uint32_t wire_len, StreamTime ts, PacketMeta* out) noexcept
      : options_(options),
        fragments_(fragments),
        counters_(counters),
        p_(data),
        cap_end_(caplen),
        // A record claiming fewer wire bytes than it captured is malformed; the captured bytes
        // were on the wire, so they bound the lengths we believe.
        wire_end_(std::max(caplen, wire_len)),
        ts_(ts),
        out_(out) {}

  DecodeResult Link(int link_type) noexcept {
    switch (link_type) {
      case kLinkEthernet:
        return Ethernet(0);
      case kLinkLinuxSll:
        if (cap_end_ < 16) return DecodeResult::kTruncatedLink;
        return EtherPayload(LoadBe16(p_ + 14), 16, 0);
      case kLinkLinuxSll2:
        if (cap_end_ < 20) return DecodeResult::kTruncatedLink;
        return EtherPayload(LoadBe16(p_), 20, 0);
      case kLinkRaw:
      case kLinkDltRaw:
      case kLinkDltRawOpenBsd:
        return IpByVersion(0);
      case kLinkIpv4:
        return Ipv4(0);
      case kLinkIpv6:
        return Ipv6(0);
      case kLinkNull:
      case kLinkLoop:
        return Loopback();
      case kLinkPpp:
      case kLinkPppHdlc:
        return PppLink();
      default:
        return DecodeResult::kUnsupportedLinkType;
    }
  }

 private:
  // Truncation before the inner IP header of a tunnel is complete has its own reason.
  DecodeResult Cut(DecodeResult r) const noexcept {
    return depth_ > 0 ? DecodeResult::kTruncatedTunnel : r;
  }

  // Entering an encapsulation: the inner packet may not claim or use bytes beyond the carrier's
  // own L3 end (`end`), whatever the frame holds after it (Ethernet padding, trailers).
  bool EnterTunnel(std::size_t end) noexcept {
    if (++depth_ > kMaxTunnelDepth) return false;
    cap_end_ = std::min(cap_end_, end);
    wire_end_ = std::min(wire_end_, end);
    return true;
  }

  void ResetL3() noexcept {
    out_->src = IpAddress{};
    out_->dst = IpAddress{};
    out_->l3_bytes = 0;
    out_->payload_bytes = 0;
    out_->tcp_seq = 0;
    out_->tcp_ack = 0;
    out_->src_port = 0;
    out_->dst_port = 0;
    out_->proto = 0;
    out_->tcp_flags = 0;
    out_->flags = 0;
  }

  DecodeResult Ethernet(std::size_t off) noexcept {
    if (off + 14 > cap_end_) return Cut(DecodeResult::kTruncatedLink);
    return EtherPayload(LoadBe16(p_ + off + 12), off + 14, 0);
  }

  // `type` is the EtherType found just before `off`; follows VLAN tags.
  DecodeResult EtherPayload(std::uint16_t type, std::size_t off, int tags) noexcept {
    while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld) {
      if (++tags > kMaxVlanTags) return DecodeResult::kTooManyVlanTags;
      if (off + 4 > cap_end_) return Cut(DecodeResult::kTruncatedLink);
      // Only the outermost tag of the outermost Ethernet header names the VLAN: that is the
      // network the sensor sits on; tags inside a tunnel belong to someone else's network.
      if (depth_ == 0 && tags == 1) out_->vlan = LoadBe16(p_ + off) & 0x0fff;
      type = LoadBe16(p_ + off + 2);
      off += 4;
    }
    switch (type) {
      case kEtherIpv4:
        return Ipv4(off);
      case kEtherIpv6:
        return Ipv6(off);
      case kEtherMpls:
      case kEtherMplsMulticast:
        return Mpls(off);
      case kEtherPppoeSession:
        return Pppoe(off);
      default:
        return DecodeResult::kNonIp;  // ARP, LLDP, PPPoE discovery, 802.3 lengths, ...
    }
  }

  DecodeResult Mpls(std::size_t off) noexcept {
    for (int labels = 1;; ++labels) {
      if (labels > kMaxMplsLabels) return DecodeResult::kTooManyMplsLabels;
      if (off + 4 > cap_end_) return Cut(DecodeResult::kTruncatedLink);
      const bool bottom = (p_[off + 2] & 0x01) != 0;
      off += 4;
      if (bottom) break;
    }
    // MPLS does not say what it carries; guess from the first nibble as routers' load
    // balancers do (RFC 4928 keeps pseudo-wire control words away from 4 and 6).
    if (off + 1 > cap_end_) return Cut(DecodeResult::kTruncatedLink);
    switch (p_[off] >> 4) {
      case 4:
        return Ipv4(off);
      case 6:
        return Ipv6(off);
      case 0:
        // Ethernet pseudo-wire with a control word (RFC 4448): 4 bytes, then the frame.
        if (!EnterTunnel(wire_end_)) return DecodeResult::kTunnelTooDeep;
        return Ethernet(off + 4);
      default:
        return DecodeResult::kUnsupportedTunnel;
    }
  }

  DecodeResult Pppoe(std::size_t off) noexcept {
    // 6-byte session header (RFC 2516), then the PPP protocol field.
    if (off + 8 > cap_end_) return DecodeResult::kTruncatedTunnel;
    if (p_[off] != 0x11 || p_[off + 1] != 0x00) return DecodeResult::kUnsupportedTunnel;
    return PppProtocol(off + 6, /*allow_address=*/false);
  }

  // A PPP frame at `off`: optional 0xff03 address/control, then a 1- or 2-byte protocol (a
  // 1-byte protocol is odd: RFC 1661 protocol-field compression).
  DecodeResult PppProtocol(std::size_t off, bool allow_address) noexcept {
    if (allow_address && off + 2 <= cap_end_ && p_[off] == 0xff && p_[off + 1] == 0x03) off += 2;
    if (off + 1 > cap_end_) return Cut(DecodeResult::kTruncatedLink);
    std::uint16_t proto = p_[off];
    if ((proto & 1) != 0) {
      off += 1;
    } else {
      if (off + 2 > cap_end_) return Cut(DecodeResult::kTruncatedLink);
      proto = LoadBe16(p_ + off);
      off += 2;
    }
    if (proto == kPppIpv4) return Ipv4(off);
    if (proto == kPppIpv6) return Ipv6(off);
    return DecodeResult::kNonIp;  // LCP, IPCP, CCP, ...
  }

  DecodeResult PppLink() noexcept {
    if (cap_end_ < 1) return DecodeResult::kTruncatedLink;
    return PppProtocol(0, /*allow_address=*/true);
  }

  DecodeResult Loopback() noexcept {
    if (cap_end_ < 4) return DecodeResult::kTruncatedLink;
    // DLT_NULL is in the capturing host's byte order and DLT_LOOP in network order, but files
    // are moved between hosts and writers get it wrong: accept either order for both.
    const auto family = [](std::uint32_t v) {
      if (v == 2) return 4;
      if (v == 24 || v == 28 || v == 30) return 6;  // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
      return 0;
    };
    int version = family(LoadLe32(p_));
    if (version == 0) version = family(LoadBe32(p_));
    if (version == 4) return Ipv4(4);
    if (version == 6) return Ipv6(4);
    return DecodeResult::kNonIp;
  }

  DecodeResult IpByVersion(std::size_t off) noexcept {
    if (off + 1 > cap_end_) return Cut(DecodeResult::kTruncatedIpv4);
    const int version = p_[off] >> 4;
    if (version == 6) return Ipv6(off);
    if (version == 4) return Ipv4(off);
    return DecodeResult::kBadIpv4Version;
  }

  std::size_t WireLeft(std::size_t off) const noexcept {
    return wire_end_ > off ? wire_end_ - off : 0;
  }

  DecodeResult Ipv4(std::size_t off) noexcept {
    ResetL3();
    if (off + 20 > cap_end_) return Cut(DecodeResult::kTruncatedIpv4);
    const std::uint8_t* ip = p_ + off;
    if ((ip[0] >> 4) != 4) return DecodeResult::kBadIpv4Version;
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    if (ihl < 20) return DecodeResult::kBadIpv4Ihl;
    if (off + ihl > cap_end_) return Cut(DecodeResult::kTruncatedIpv4);  // options cut short
    std::size_t l3 = LoadBe16(ip + 2);
    const std::size_t wire_left = WireLeft(off);
    // TSO/GSO super-packet handed to the capture before segmentation (veth, BIG TCP, Windows
    // TSO): the length is left 0 because it may not fit. The frame is the packet.
    if (l3 == 0) l3 = wire_left;
    if (l3 < ihl) return DecodeResult::kBadIpv4TotalLength;
    if (l3 > wire_left) return DecodeResult::kIpLengthExceedsFrame;

    out_->src = IpAddress::V4Bytes(ip + 12);
    out_->dst = IpAddress::V4Bytes(ip + 16);
    out_->l3_bytes = static_cast<std::uint32_t>(l3);
    const std::uint8_t proto = ip[9];

    FragState frag;
    const std::uint16_t frag_field = LoadBe16(ip + 6);
    const bool more = (frag_field & 0x2000) != 0;
    const std::uint16_t frag_offset = frag_field & 0x1fff;
    if (more || frag_offset != 0) {
      frag.fragment = true;
      frag.later = frag_offset != 0;
      frag.key.src = out_->src;
      frag.key.dst = out_->dst;
      frag.key.id = LoadBe16(ip + 4);
      frag.key.proto = proto;
    }
    return Transport(proto, off + ihl, off + l3, frag);
  }

  static bool IsIpv6ExtHeader(std::uint8_t nh) noexcept {
    return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135;
  }

  DecodeResult Ipv6(std::size_t off) noexcept {
    ResetL3();
    if (off + 40 > cap_end_) return Cut(DecodeResult::kTruncatedIpv6);
    const std::uint8_t* ip = p_ + off;
    if ((ip[0] >> 4) != 6) return DecodeResult::kBadIpv4Version;
    out_->flags = kMetaIpv6;
    out_->src = IpAddress::V6Bytes(ip + 8);
    out_->dst = IpAddress::V6Bytes(ip + 24);
    const std::size_t payload_len = LoadBe16(ip + 4);

    std::uint8_t nh = ip[6];
    std::size_t l4 = off + 40;
    bool saw_hop_by_hop = false;
    std::uint64_t jumbo = 0;  // 0: no jumbo option
    FragState frag;
    for (int n = 0; IsIpv6ExtHeader(nh); ++n) {
      if (n >= kMaxIpv6ExtHeaders) return DecodeResult::kTooManyIpv6ExtHeaders;
      if (l4 + 2 > cap_end_) return DecodeResult::kTruncatedIpv6ExtHeader;
      const std::uint8_t next = p_[l4];
      std::size_t len;
      if (nh == 44) {
        len = 8;
      } else if (nh == 51) {
        len = (std::size_t{p_[l4 + 1]} + 2) * 4;  // AH counts 4-byte units (RFC 4302)
      } else {
        len = (std::size_t{p_[l4 + 1]} + 1) * 8;
      }
      if (l4 + len > cap_end_) return DecodeResult::kTruncatedIpv6ExtHeader;
      if (nh == 0) {
        saw_hop_by_hop = true;
        jumbo = FindJumbo(l4 + 2, l4 + len);
      } else if (nh == 44) {
        const std::uint16_t field = LoadBe16(p_ + l4 + 2);
        const std::uint16_t frag_offset = field & 0xfff8;
        const bool more = (field & 1) != 0;
        // An "atomic fragment" (offset 0, no more) is a whole datagram (RFC 6946).
        if (frag_offset != 0 || more) {
          frag.fragment = true;
          frag.later = frag_offset != 0;
          frag.key.src = out_->src;
          frag.key.dst = out_->dst;
          frag.key.id = LoadBe32(p_ + l4 + 4);
          frag.key.proto = next;
        }
      }
      l4 += len;
      nh = next;
      if (frag.later) break;  // what follows is the middle of someone else's header
    }

    std::size_t l3;
    const std::size_t wire_left = WireLeft(off);
    if (payload_len != 0) {
      l3 = payload_len + 40;
    } else if (jumbo != 0) {
      // RFC 2675: a jumbogram's length is in the option and must exceed 65535.
      if (jumbo <= kMaxIpLengthField) return DecodeResult::kBadIpv6Jumbo;
      if (jumbo + 40 > wire_left) return DecodeResult::kIpLengthExceedsFrame;
      l3 = static_cast<std::size_t>(jumbo) + 40;
    } else if (saw_hop_by_hop) {
      return DecodeResult::kBadIpv6Jumbo;
    } else if (wire_left > kMaxIpLengthField + 40) {
      l3 = wire_left;  // GSO super-packet whose length does not fit the field (see Ipv4)
    } else if (nh == 59 && l4 == off + 40) {
      l3 = 40;  // a bare header with "no next header" really has no payload
    } else {
      return DecodeResult::kBadIpv6Jumbo;
    }
    if (l3 > wire_left) return DecodeResult::kIpLengthExceedsFrame;
    // The extension headers claim more than the packet's own length.
    if (l4 > off + l3) return DecodeResult::kTruncatedIpv6ExtHeader;
    out_->l3_bytes = static_cast<std::uint32_t>(l3);
    return Transport(nh, l4, off + l3, frag);
  }

  // Scans hop-by-hop options in [begin, end) (already captured) for Jumbo Payload (type 0xC2).
  std::uint64_t FindJumbo(std::size_t begin, std::size_t end) const noexcept {
    std::size_t o = begin;
    while (o < end) {
      const std::uint8_t type = p_[o];
      if (type == 0) {  // Pad1 has no length byte
        ++o;
        continue;
      }
      if (o + 2 > end) return 0;
      const std::size_t len = p_[o + 1];
      if (o + 2 + len > end) return 0;
      if (type == 0xC2 && len == 4) return LoadBe32(p_ + o + 2);
      o += 2 + len;
    }
    return 0;
  }

  // A first fragment too short for its transport header (RFC 1858 "tiny fragment", or a tiny MTU):
  // the header continues in the next fragment. It is still accounted, with the ports when they
  // are in this fragment, so that the rest of the datagram is charged to the same flow.
  void TinyFirstFragment(std::size_t l4, std::size_t l4_len) noexcept {
    if (l4_len >= 4 && l4 + 4 <= cap_end_) {
      out_->src_port = LoadBe16(p_ + l4);
      out_->dst_port = LoadBe16(p_ + l4 + 2);
    }
  }

  DecodeResult Transport(std::uint8_t proto, std::size_t l4, std::size_t l3_end,
                         const FragState& frag) noexcept {
    out_->proto = proto;
    const std::size_t l4_len = l3_end - l4;  // callers guarantee l4 <= l3_end
    if (frag.fragment) out_->flags |= kMetaFragment;
    if (frag.later) {
      out_->flags |= kMetaLaterFragment;
      out_->payload_bytes = static_cast<std::uint32_t>(l4_len);
      internal::FragmentInfo info;
      if (fragments_->Lookup(frag.key, ts_, &info)) {
        out_->src_port = info.src_port;
        out_->dst_port = info.dst_port;
        out_->proto = info.l4_proto;
      } else {
        counters_->fragments_unmatched.Add(1);
      }
      return DecodeResult::kOk;
    }

    switch (proto) {
      case kProtoTcp: {
        if (frag.fragment && l4_len < 20) {
          TinyFirstFragment(l4, l4_len);
          break;
        }
        if (l4 + 20 > cap_end_) return DecodeResult::kTruncatedTcp;
        const std::uint8_t* t = p_ + l4;
        std::size_t header = static_cast<std::size_t>(t[12] >> 4) * 4;
        if (header < 20) return DecodeResult::kBadTcpDataOffset;
        if (header > l4_len) {
          // In a first fragment the options may continue in the next one; anywhere else the
          // header claims more than the packet holds.
          if (!frag.fragment) return DecodeResult::kBadTcpDataOffset;
          header = l4_len;
        }
        out_->src_port = LoadBe16(t);
        out_->dst_port = LoadBe16(t + 2);
        out_->tcp_seq = LoadBe32(t + 4);
        out_->tcp_ack = LoadBe32(t + 8);
        out_->tcp_flags = t[13];
        out_->payload_bytes = static_cast<std::uint32_t>(l4_len - header);
        break;
      }
      case kProtoUdp: {
        if (frag.fragment && l4_len < 8) {
          TinyFirstFragment(l4, l4_len);
          break;
        }
        if (l4 + 8 > cap_end_) return DecodeResult::kTruncatedUdp;
        const std::uint8_t* u = p_ + l4;
        // The UDP length is only sanity-checked: the IP length already bounds the datagram,
        // and GSO super-packets carry a per-segment UDP length.
        if (LoadBe16(u + 4) < 8) return DecodeResult::kBadUdpLength;
        out_->src_port = LoadBe16(u);
        out_->dst_port = LoadBe16(u + 2);
        out_->payload_bytes = l4_len > 8 ? static_cast<std::uint32_t>(l4_len - 8) : 0;
        break;
      }
      case kProtoIcmp:
      case kProtoIcmpv6:
        // Type, code and checksum. An error message quotes another packet's headers; that
        // packet is never parsed: the bytes on the wire are the ICMP packet's.
        if (l4 + 4 > cap_end_) return DecodeResult::kTruncatedIcmp;
        break;
      case kProtoDccp:
      case kProtoSctp:
      case kProtoUdpLite:
        // Ports lead the header as in TCP and UDP; a flow of these is a port pair too. When the
        // four bytes are not captured the packet is still accounted, without ports.
        if (l4 + 4 <= cap_end_ && !(frag.fragment && l4_len < 4)) {
          out_->src_port = LoadBe16(p_ + l4);
          out_->dst_port = LoadBe16(p_ + l4 + 2);
        }
        break;
      default:
        break;  // ESP, OSPF, GRE in outer mode, ...: accounted without ports
    }

    if (frag.fragment) {
      // First fragment: remember the ports for the rest of the datagram.
      fragments_->Insert(frag.key, internal::FragmentInfo{out_->src_port, out_->dst_port, proto},
                         ts_);
      return DecodeResult::kOk;  // a tunnel's inner packet is never whole in one fragment
    }
    if (options_.tunnels != TunnelMode::kInner) return DecodeResult::kOk;

    DecodeResult r = DecodeResult::kOk;
    switch (proto) {
      case kProtoGre:
        r = Gre(l4, l3_end);
        break;
      case kProtoIpip:
        r = EnterTunnel(l3_end) ? Inner(Ipv4(l4)) : DecodeResult::kTunnelTooDeep;
        break;
      case kProtoIpv6InIp:
        r = EnterTunnel(l3_end) ? Inner(Ipv6(l4)) : DecodeResult::kTunnelTooDeep;
        break;
      case kProtoUdp:
        if (out_->dst_port == kPortVxlan) {
          r = Vxlan(l4 + 8, l3_end);
        } else if (out_->dst_port == kPortGeneve) {
          r = Geneve(l4 + 8, l3_end);
        } else if (out_->dst_port == kPortGtpU) {
          r = GtpU(l4 + 8, l3_end);
        }
        break;
      default:
        break;
    }
    return r;
  }

  // The carrier stays the accounted packet (a tunnel's control or undecodable-but-valid traffic).
  // Called with out_ still describing it.
  static constexpr DecodeResult kKeepOuter = DecodeResult::kOk;

  DecodeResult Inner(DecodeResult r) noexcept {
    if (r == DecodeResult::kOk) out_->flags |= kMetaTunnelled;
    return r;
  }

  DecodeResult Gre(std::size_t off, std::size_t l3_end) noexcept {
    if (!EnterTunnel(l3_end)) return DecodeResult::kTunnelTooDeep;
    if (off + 4 > cap_end_) return DecodeResult::kTruncatedTunnel;
    const std::uint16_t flags = LoadBe16(p_ + off);
    const std::uint16_t type = LoadBe16(p_ + off + 2);
    const bool checksum = (flags & 0x8000) != 0;
    const bool routing = (flags & 0x4000) != 0;
    const bool key = (flags & 0x2000) != 0;
    const bool sequence = (flags & 0x1000) != 0;
    const int version = flags & 0x7;
    std::size_t h = off + 4;
    if (version == 1) {
      // Enhanced GRE (PPTP, RFC 2637): the key holds payload length and call id.
      if (type != kEtherPpp || !key) return DecodeResult::kUnsupportedTunnel;
      h += 4 + (sequence ? 4 : 0) + ((flags & 0x0080) != 0 ? 4 : 0);
      if (h > cap_end_) return DecodeResult::kTruncatedTunnel;
      // An acknowledgement without data carries nothing but itself.
      if (!sequence || LoadBe16(p_ + off + 4) == 0) return kKeepOuter;
      const DecodeResult r = PppOverGre(h);
      return r == DecodeResult::kNonIp ? kKeepOuter : Inner(r);
    }
    // RFC 1701 source routing is variable-length and obsolete.
    if (version != 0 || routing) return DecodeResult::kUnsupportedTunnel;
    h += (checksum ? 4 : 0) + (key ? 4 : 0) + (sequence ? 4 : 0);
    if (h > cap_end_) return DecodeResult::kTruncatedTunnel;
    switch (type) {
      case kEtherIpv4:
        return Inner(Ipv4(h));
      case kEtherIpv6:
        return Inner(Ipv6(h));
      case kEtherTransparentBridging:
        return Inner(Ethernet(h));
      case kEtherErspan2:
        // Type II has an 8-byte header and sets S; type I has neither.
        return Inner(Ethernet(h + (sequence ? 8 : 0)));
      case kEtherErspan3: {
        if (h + 12 > cap_end_) return DecodeResult::kTruncatedTunnel;
        const bool platform_subheader = (p_[h + 11] & 0x01) != 0;  // the O flag
        return Inner(Ethernet(h + 12 + (platform_subheader ? 8 : 0)));
      }
      case kEtherMpls:
      case kEtherMplsMulticast:
        return Inner(Mpls(h));
      default:
        return DecodeResult::kUnsupportedTunnel;
    }
  }

  // PPTP's PPP payload. MPPE-encrypted (0x00FD) or compressed data and link control are not IP
  // we can read, so the caller keeps the GRE packet as the accounted one.
  DecodeResult PppOverGre(std::size_t off) noexcept { return PppProtocol(off, true); }

  DecodeResult Vxlan(std::size_t off, std::size_t l3_end) noexcept {
    if (!EnterTunnel(l3_end)) return DecodeResult::kTunnelTooDeep;
    if (off + 8 > cap_end_) return DecodeResult::kTruncatedTunnel;
    return Inner(Ethernet(off + 8));
  }

  DecodeResult Geneve(std::size_t off, std::size_t l3_end) noexcept {
    if (!EnterTunnel(l3_end)) return DecodeResult::kTunnelTooDeep;
    if (off + 8 > cap_end_) return DecodeResult::kTruncatedTunnel;
    if ((p_[off] >> 6) != 0) return DecodeResult::kUnsupportedTunnel;  // version
    const std::size_t inner = off + 8 + std::size_t{p_[off] & 0x3fu} * 4;
    switch (LoadBe16(p_ + off + 2)) {
      case kEtherTransparentBridging:
        return Inner(Ethernet(inner));
      case kEtherIpv4:
        return Inner(Ipv4(inner));
      case kEtherIpv6:
        return Inner(Ipv6(inner));
      default:
        return DecodeResult::kUnsupportedTunnel;
    }
  }

  DecodeResult GtpU(std::size_t off, std::size_t l3_end) noexcept {
    if (off + 8 > cap_end_) return DecodeResult::kTruncatedTunnel;
    const std::uint8_t flags = p_[off];
    // Not GTPv1 with PT=1, or not a G-PDU (echo, error indication, end marker): signalling
    // that travels on the tunnel port; it is the UDP packet itself that is accounted.
    if ((flags >> 5) != 1 || (flags & 0x10) == 0 || p_[off + 1] != 0xFF) return kKeepOuter;
    if (!EnterTunnel(l3_end)) return DecodeResult::kTunnelTooDeep;
    std::size_t h = off + 8;
    if ((flags & 0x07) != 0) {  // E, S or PN: sequence, N-PDU and next-extension-type follow
      if (h + 4 > cap_end_) return DecodeResult::kTruncatedTunnel;
      std::uint8_t next = p_[h + 3];
      h += 4;
      for (int n = 0; (flags & 0x04) != 0 && next != 0; ++n) {
        if (n >= kMaxGtpExtHeaders) return DecodeResult::kUnsupportedTunnel;
        if (h + 1 > cap_end_) return DecodeResult::kTruncatedTunnel;
        const std::size_t len = std::size_t{p_[h]} * 4;  // includes the length and next bytes
        if (len == 0) return DecodeResult::kUnsupportedTunnel;
        if (h + len > cap_end_) return DecodeResult::kTruncatedTunnel;
        next = p_[h + len - 1];
        h += len;
      }
    }
    if (h + 1 > cap_end_) return DecodeResult::kTruncatedTunnel;
    switch (p_[h] >> 4) {
      case 4:
        return Inner(Ipv4(h));
      case 6:
        return Inner(Ipv6(h));
      default:
        return DecodeResult::kUnsupportedTunnel;
    }
  }

  const DecodeOptions& options_;
  internal::FragmentTable* fragments_;
  DecodeCounters* counters_;
  const std::uint8_t* p_;
  std::size_t cap_end_;
  std::size_t wire_end_;
  StreamTime ts_;
  PacketMeta* out_;
  int depth_ = 0;
};

}  // namespace

std::string_view ReasonName(DecodeResult r) {
  switch (r) {
    case DecodeResult::kOk:
      return "ok";
    case DecodeResult::kUnsupportedLinkType:
      return "unsupported_link_type";
    case DecodeResult::kTruncatedLink:
      return "truncated_link";
    case DecodeResult::kNonIp:
      return "non_ip";
    case DecodeResult::kTooManyVlanTags:
      return "too_many_vlan_tags";
    case DecodeResult::kTooManyMplsLabels:
      return "too_many_mpls_labels";
    case DecodeResult::kTruncatedIpv4:
      return "truncated_ipv4";
    case DecodeResult::kBadIpv4Version:
      return "bad_ip_version";
    case DecodeResult::kBadIpv4Ihl:
      return "bad_ipv4_ihl";
    case DecodeResult::kBadIpv4TotalLength:
      return "bad_ipv4_total_length";
    case DecodeResult::kIpLengthExceedsFrame:
      return "ip_length_exceeds_frame";
    case DecodeResult::kTruncatedIpv6:
      return "truncated_ipv6";
    case DecodeResult::kTruncatedIpv6ExtHeader:
      return "truncated_ipv6_ext_header";
    case DecodeResult::kTooManyIpv6ExtHeaders:
      return "too_many_ipv6_ext_headers";
    case DecodeResult::kBadIpv6Jumbo:
      return "bad_ipv6_jumbo";
    case DecodeResult::kTruncatedTcp:
      return "truncated_tcp";
    case DecodeResult::kBadTcpDataOffset:
      return "bad_tcp_data_offset";
    case DecodeResult::kTruncatedUdp:
      return "truncated_udp";
    case DecodeResult::kBadUdpLength:
      return "bad_udp_length";
    case DecodeResult::kTruncatedIcmp:
      return "truncated_icmp";
    case DecodeResult::kTruncatedTunnel:
      return "truncated_tunnel";
    case DecodeResult::kUnsupportedTunnel:
      return "unsupported_tunnel";
    case DecodeResult::kTunnelTooDeep:
      return "tunnel_too_deep";
    case DecodeResult::kCount:
      break;
  }
  return "unknown";
}

Decoder::Decoder(const DecodeOptions& options, const SiteClassifier* site)
    : options_(options),
      site_(site),
      fragments_(
          new internal::FragmentTable(options.fragment_table_entries, options.fragment_timeout)) {}

Decoder::~Decoder() {
  delete fragments_;
}

DecodeResult Decoder::Decode(int link_type, const std::uint8_t* data, std::uint32_t caplen,
                             std::uint32_t wire_len, StreamTime ts, PacketMeta* out) noexcept {
  counters_.frames.Add(1);
  counters_.wire_bytes.Add(wire_len);
  *out = PacketMeta{};
  out->ts = ts;
  out->wire_bytes = wire_len;
  if (data == nullptr) caplen = 0;

  FrameParser parser(options_, fragments_, &counters_, data, caplen, wire_len, ts, out);
  const DecodeResult r = parser.Link(link_type);
  counters_.by_reason[static_cast<std::size_t>(r)].Add(1);
  if (r != DecodeResult::kOk) return r;

  if (site_ != nullptr) {
    site_->Classify(out);
  } else {
    out->direction = Direction::kTransit;
    out->tenant = 0;
  }
  counters_.ip_packets.Add(1);
  if ((out->flags & kMetaIpv6) != 0) {
    counters_.ipv6_packets.Add(1);
  } else {
    counters_.ipv4_packets.Add(1);
  }
  counters_.l3_bytes.Add(out->l3_bytes);
  const auto d = static_cast<std::size_t>(out->direction);
  counters_.direction_packets[d].Add(1);
  counters_.direction_l3_bytes[d].Add(out->l3_bytes);
  return r;
}

}  // namespace weighbridge::capture
