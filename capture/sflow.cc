// sFlow v5 (sflow.org/sflow_version_5.txt). Every structure is XDR: big-endian 32-bit words,
// opaque data padded to a multiple of 4. Every length is checked against its container before
// it is believed; a sample or record that does not fit ends the parse of its container only.
#include "weighbridge/capture/sflow.h"

#include "weighbridge/core/bytes.h"

namespace weighbridge::capture {
namespace {

constexpr std::uint32_t kSflowVersion5 = 5;
constexpr std::uint32_t kAddressIpv4 = 1;
constexpr std::uint32_t kAddressIpv6 = 2;

// Sample and record formats (enterprise 0).
constexpr std::uint32_t kFlowSample = 1;
constexpr std::uint32_t kCounterSample = 2;
constexpr std::uint32_t kExpandedFlowSample = 3;
constexpr std::uint32_t kExpandedCounterSample = 4;
constexpr std::uint32_t kRawPacketHeader = 1;
constexpr std::uint32_t kGenericInterfaceCounters = 1;

// header_protocol values of the raw packet header record.
constexpr std::uint32_t kHeaderEthernet = 1;
constexpr std::uint32_t kHeaderIpv4 = 11;
constexpr std::uint32_t kHeaderIpv6 = 12;

// A bounds-checked reader over one XDR container. Reads past the end fail and leave it failed.
class Xdr {
 public:
  Xdr(const std::uint8_t* p, std::size_t len) : p_(p), len_(len) {}
  bool U32(std::uint32_t* v) {
    if (len_ - off_ < 4 || off_ > len_) return Fail();
    *v = LoadBe32(p_ + off_);
    off_ += 4;
    return true;
  }
  bool U64(std::uint64_t* v) {
    std::uint32_t hi = 0;
    std::uint32_t lo = 0;
    if (!U32(&hi) || !U32(&lo)) return false;
    *v = (std::uint64_t{hi} << 32) | lo;
    return true;
  }
  bool Skip(std::size_t n) {
    if (n > len_ - off_) return Fail();
    off_ += n;
    return true;
  }
  // An opaque of `n` bytes (padded to 4) as a sub-reader's span.
  bool Opaque(std::size_t n, const std::uint8_t** data) {
    const std::size_t padded = (n + 3) & ~std::size_t{3};
    if (n > len_ - off_ || padded > len_ - off_) return Fail();
    *data = p_ + off_;
    off_ += padded;
    return true;
  }
  std::size_t remaining() const { return len_ - off_; }

 private:
  bool Fail() {
    off_ = len_;
    return false;
  }
  const std::uint8_t* p_;
  std::size_t len_;
  std::size_t off_ = 0;
};

}  // namespace

SflowParser::SflowParser(const DecodeOptions& decode, const SiteClassifier* site,
                         FlowProtocolCounters* counters)
    : decoder_(decode, site), counters_(counters) {}

void SflowParser::Parse(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
                        StreamTime received, std::vector<PacketMeta>* packets,
                        std::vector<SflowInterfaceCounters>* interface_counters) {
  counters_->datagrams.Add(1);
  Xdr d(data, len);
  std::uint32_t version = 0;
  std::uint32_t address_type = 0;
  if (!d.U32(&version)) {
    counters_->datagrams_dropped.Add(1);
    counters_->Drop(FlowDropReason::kTruncatedDatagram);
    return;
  }
  if (version != kSflowVersion5) {
    counters_->datagrams_dropped.Add(1);
    counters_->Drop(FlowDropReason::kUnknownVersion);
    return;
  }
  if (!d.U32(&address_type)) {
    counters_->datagrams_dropped.Add(1);
    counters_->Drop(FlowDropReason::kTruncatedDatagram);
    return;
  }
  IpAddress agent;
  const std::uint8_t* addr = nullptr;
  if (address_type != kAddressIpv4 && address_type != kAddressIpv6) {
    counters_->datagrams_dropped.Add(1);
    counters_->Drop(FlowDropReason::kBadAgentAddress);
    return;
  }
  std::uint32_t sub_agent = 0;
  std::uint32_t sequence = 0;
  std::uint32_t uptime_ms = 0;
  std::uint32_t samples = 0;
  if (!d.Opaque(address_type == kAddressIpv4 ? 4 : 16, &addr) || !d.U32(&sub_agent) ||
      !d.U32(&sequence) || !d.U32(&uptime_ms) || !d.U32(&samples)) {
    counters_->datagrams_dropped.Add(1);
    counters_->Drop(FlowDropReason::kTruncatedDatagram);
    return;
  }
  agent = address_type == kAddressIpv4 ? IpAddress::V4Bytes(addr) : IpAddress::V6Bytes(addr);

  // `samples` is not trusted: each sample needs 8 bytes, so the datagram bounds the loop.
  for (std::uint32_t s = 0; s < samples; ++s) {
    std::uint32_t format = 0;
    std::uint32_t length = 0;
    const std::uint8_t* body = nullptr;
    if (!d.U32(&format) || !d.U32(&length) || !d.Opaque(length, &body)) {
      counters_->Drop(FlowDropReason::kTruncatedSample);
      return;
    }
    const std::uint32_t enterprise = format >> 12;
    const std::uint32_t kind = format & 0xfff;
    if (enterprise != 0) {
      counters_->skipped.Add(1);
      continue;
    }
    Xdr sample(body, length);
    if (kind == kFlowSample || kind == kExpandedFlowSample) {
      counters_->sflow_flow_samples.Add(1);
      std::uint32_t seq = 0;
      std::uint32_t rate = 0;
      std::uint32_t pool = 0;
      std::uint32_t drops = 0;
      std::uint32_t records = 0;
      std::uint32_t ignored = 0;
      bool ok = sample.U32(&seq);
      if (kind == kFlowSample) {
        ok = ok && sample.U32(&ignored);  // source_id
      } else {
        ok = ok && sample.U32(&ignored) && sample.U32(&ignored);  // source type, index
      }
      ok = ok && sample.U32(&rate) && sample.U32(&pool) && sample.U32(&drops);
      if (kind == kFlowSample) {
        ok = ok && sample.U32(&ignored) && sample.U32(&ignored);  // input, output
      } else {
        ok = ok && sample.Skip(16);  // input and output, each format + value
      }
      ok = ok && sample.U32(&records);
      if (!ok) {
        counters_->Drop(FlowDropReason::kTruncatedSample);
        continue;
      }
      if (rate == 0) {
        counters_->Drop(FlowDropReason::kBadSamplingRate);
        continue;
      }
      for (std::uint32_t r = 0; r < records; ++r) {
        std::uint32_t rformat = 0;
        std::uint32_t rlength = 0;
        const std::uint8_t* rbody = nullptr;
        if (!sample.U32(&rformat) || !sample.U32(&rlength) || !sample.Opaque(rlength, &rbody)) {
          counters_->Drop(FlowDropReason::kTruncatedSample);
          break;
        }
        if (rformat != kRawPacketHeader) {
          counters_->skipped.Add(1);  // extended data (switch, router, user, ...)
          continue;
        }
        Xdr rec(rbody, rlength);
        std::uint32_t header_protocol = 0;
        std::uint32_t frame_length = 0;
        std::uint32_t stripped = 0;
        std::uint32_t header_length = 0;
        const std::uint8_t* header = nullptr;
        if (!rec.U32(&header_protocol) || !rec.U32(&frame_length) || !rec.U32(&stripped) ||
            !rec.U32(&header_length) || !rec.Opaque(header_length, &header)) {
          counters_->Drop(FlowDropReason::kTruncatedSample);
          continue;
        }
        int link = 0;
        switch (header_protocol) {
          case kHeaderEthernet:
            link = kLinkEthernet;
            break;
          case kHeaderIpv4:
            link = kLinkIpv4;
            break;
          case kHeaderIpv6:
            link = kLinkIpv6;
            break;
          default:
            counters_->Drop(FlowDropReason::kUnsupportedHeaderProtocol);
            continue;
        }
        PacketMeta m;
        // frame_length is the packet's length before sampling (for Ethernet including the FCS):
        // the wire length. The L3 length comes from the sampled IP header.
        if (decoder_.Decode(link, header, header_length, frame_length, received, &m) !=
            DecodeResult::kOk) {
          counters_->Drop(FlowDropReason::kSampleDecodeError);
          continue;
        }
        m.sample_weight = rate;
        packets->push_back(m);
        counters_->sampled_packets.Add(1);
      }
    } else if (kind == kCounterSample || kind == kExpandedCounterSample) {
      std::uint32_t seq = 0;
      std::uint32_t source_id = 0;
      std::uint32_t records = 0;
      bool ok = sample.U32(&seq);
      if (kind == kCounterSample) {
        ok = ok && sample.U32(&source_id);
      } else {
        std::uint32_t type = 0;
        std::uint32_t index = 0;
        ok = ok && sample.U32(&type) && sample.U32(&index);
        source_id = (type << 24) | (index & 0xffffff);
      }
      ok = ok && sample.U32(&records);
      if (!ok) {
        counters_->Drop(FlowDropReason::kTruncatedSample);
        continue;
      }
      for (std::uint32_t r = 0; r < records; ++r) {
        std::uint32_t rformat = 0;
        std::uint32_t rlength = 0;
        const std::uint8_t* rbody = nullptr;
        if (!sample.U32(&rformat) || !sample.U32(&rlength) || !sample.Opaque(rlength, &rbody)) {
          counters_->Drop(FlowDropReason::kTruncatedSample);
          break;
        }
        if (rformat != kGenericInterfaceCounters) {
          counters_->skipped.Add(1);  // ethernet, processor, host counters, ...
          continue;
        }
        Xdr rec(rbody, rlength);
        SflowInterfaceCounters c;
        c.exporter = exporter;
        c.agent = agent;
        c.sub_agent = sub_agent;
        c.source_id = source_id;
        c.received = received;
        std::uint32_t promiscuous = 0;
        if (!rec.U32(&c.if_index) || !rec.U32(&c.if_type) || !rec.U64(&c.if_speed_bps) ||
            !rec.U32(&c.if_direction) || !rec.U32(&c.if_status) || !rec.U64(&c.in_octets) ||
            !rec.U32(&c.in_unicast_packets) || !rec.U32(&c.in_multicast_packets) ||
            !rec.U32(&c.in_broadcast_packets) || !rec.U32(&c.in_discards) ||
            !rec.U32(&c.in_errors) || !rec.U32(&c.in_unknown_protos) || !rec.U64(&c.out_octets) ||
            !rec.U32(&c.out_unicast_packets) || !rec.U32(&c.out_multicast_packets) ||
            !rec.U32(&c.out_broadcast_packets) || !rec.U32(&c.out_discards) ||
            !rec.U32(&c.out_errors) || !rec.U32(&promiscuous)) {
          counters_->Drop(FlowDropReason::kTruncatedSample);
          continue;
        }
        counters_->counter_samples.Add(1);
        if (interface_counters != nullptr) interface_counters->push_back(c);
      }
    } else {
      counters_->skipped.Add(1);
    }
  }
}

}  // namespace weighbridge::capture
