// The flow-protocol replay source. Each frame is first looked at by a small UDP locator (link
// layer, VLAN tags, IPv4/IPv6, UDP); a datagram to an input's port goes to that input's
// FlowDatagramDecoder, everything else to the ordinary Decoder. The locator is separate from
// the Decoder on purpose: the Decoder reports what a packet is, not where its payload starts,
// and a flow datagram must not be counted as traffic in the Decoder's counters.
#include "weighbridge/capture/flow_replay.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <utility>

#include "weighbridge/core/bytes.h"

namespace weighbridge::capture {
namespace internal {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const noexcept { pcap_close(p); }
};
using PcapHandle = std::unique_ptr<pcap_t, PcapCloser>;

int ToLinkType(int dlt) noexcept {
  return dlt == DLT_RAW ? kLinkRaw : dlt;
}

constexpr int kMaxVlanTags = 4;
constexpr int kMaxIpv6ExtHeaders = 4;

// A UDP datagram found in a frame.
struct UdpView {
  IpAddress src;
  IpAddress dst;
  std::uint16_t dst_port = 0;
  const std::uint8_t* payload = nullptr;
  std::size_t payload_len = 0;
  bool fragment = false;   // IP-fragmented: payload unusable
  bool truncated = false;  // the capture cut the payload
};

// Finds an unencapsulated UDP datagram. False when the frame is not one (or too short to tell).
bool LocateUdp(int link, const std::uint8_t* p, std::uint32_t caplen, UdpView* v) {
  std::size_t off = 0;
  std::uint16_t ethertype = 0;
  switch (link) {
    case kLinkEthernet: {
      if (caplen < 14) return false;
      ethertype = LoadBe16(p + 12);
      off = 14;
      for (int tags = 0; ethertype == 0x8100 || ethertype == 0x88A8 || ethertype == 0x9100;
           ++tags) {
        if (tags == kMaxVlanTags || caplen - off < 4) return false;
        ethertype = LoadBe16(p + off + 2);
        off += 4;
      }
      break;
    }
    case kLinkLinuxSll:
      if (caplen < 16) return false;
      ethertype = LoadBe16(p + 14);
      off = 16;
      break;
    case kLinkLinuxSll2:
      if (caplen < 20) return false;
      ethertype = LoadBe16(p);
      off = 20;
      break;
    case kLinkNull:
    case kLinkLoop:
      off = 4;
      break;
    case kLinkRaw:
    case kLinkDltRaw:
    case kLinkDltRawOpenBsd:
    case kLinkIpv4:
    case kLinkIpv6:
      break;
    default:
      return false;
  }
  if (ethertype != 0 && ethertype != 0x0800 && ethertype != 0x86DD) return false;
  if (caplen <= off) return false;
  const std::uint8_t* ip = p + off;
  const std::size_t cap = caplen - off;
  std::size_t udp = 0;
  std::size_t ip_end = 0;
  if ((ip[0] >> 4) == 4) {
    if (cap < 20) return false;
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    const std::size_t total = LoadBe16(ip + 2);
    if (ihl < 20 || total < ihl || ip[9] != 17) return false;
    const std::uint16_t frag = LoadBe16(ip + 6);
    if ((frag & 0x1fff) != 0) return false;  // a later fragment: no UDP header here
    v->fragment = (frag & 0x2000) != 0;
    v->src = IpAddress::V4Bytes(ip + 12);
    v->dst = IpAddress::V4Bytes(ip + 16);
    udp = ihl;
    ip_end = total;
  } else if ((ip[0] >> 4) == 6) {
    if (cap < 40) return false;
    std::uint8_t next = ip[6];
    udp = 40;
    ip_end = 40 + std::size_t{LoadBe16(ip + 4)};
    for (int i = 0; next != 17; ++i) {
      if (i == kMaxIpv6ExtHeaders) return false;
      if (next == 44) {  // fragment header
        if (cap < udp + 8) return false;
        if ((LoadBe16(ip + udp + 2) & 0xfff8) != 0) return false;  // later fragment
        v->fragment = true;
        next = ip[udp];
        udp += 8;
      } else if (next == 0 || next == 43 || next == 60) {
        if (cap < udp + 2) return false;
        next = ip[udp];
        udp += (std::size_t{ip[udp + 1]} + 1) * 8;
      } else {
        return false;
      }
    }
    v->src = IpAddress::V6Bytes(ip + 8);
    v->dst = IpAddress::V6Bytes(ip + 24);
  } else {
    return false;
  }
  if (cap < udp + 8) return false;
  const std::size_t udp_len = LoadBe16(ip + udp + 4);
  v->dst_port = LoadBe16(ip + udp + 2);
  if (udp_len < 8 || ip_end < udp + udp_len) {
    v->truncated = true;  // lengths that do not add up: nothing we could believe
    return true;
  }
  v->payload = ip + udp + 8;
  v->payload_len = udp_len - 8;
  v->truncated = udp + udp_len > cap;
  return true;
}

StreamTime ToStreamTime(const timeval& tv) {
  // Opened with PCAP_TSTAMP_PRECISION_NANO: tv_usec holds nanoseconds.
  return StreamTime::FromNanos(static_cast<std::int64_t>(tv.tv_sec) * kNanosPerSecond +
                               static_cast<std::int64_t>(tv.tv_usec));
}

}  // namespace

class FlowReplayImpl {
 public:
  FlowReplayImpl(PcapHandle pcap, std::string path, const FlowReplayOptions& options,
                 const DecodeOptions& decode, const SiteClassifier* site)
      : pcap_(std::move(pcap)),
        path_(std::move(path)),
        link_type_(ToLinkType(pcap_datalink(pcap_.get()))),
        decoder_(decode, site) {
    for (const FlowInputOptions& in : options.inputs) {
      inputs_.push_back(std::make_unique<FlowDatagramDecoder>(in, decode, site));
    }
  }

  PollResult Poll(std::span<PacketMeta> out) {
    PollResult r;
    r.packets = DrainSamples(out);
    if (r.packets == out.size() && !out.empty()) return r;
    if (done_) {
      r.state = PollResult::State::kEnd;
      return r;
    }
    for (std::size_t frames = 0; frames < out.size() && r.packets < out.size(); ++frames) {
      pcap_pkthdr* hdr = nullptr;
      const u_char* data = nullptr;
      const int rc = pcap_next_ex(pcap_.get(), &hdr, &data);
      if (rc != 1) {
        done_ = true;
        if (rc == PCAP_ERROR_BREAK) {
          r.state = r.packets > 0 ? PollResult::State::kMore : PollResult::State::kEnd;
          if (pending() > 0) r.state = PollResult::State::kMore;
        } else {
          r.state = PollResult::State::kError;
          r.error = path_ + ": truncated or corrupt record after frame " +
                    std::to_string(frames_read_) + ": " + pcap_geterr(pcap_.get());
        }
        return r;
      }
      ++frames_read_;
      const StreamTime ts = ToStreamTime(hdr->ts);
      UdpView v;
      FlowDatagramDecoder* in = nullptr;
      if (!inputs_.empty() && LocateUdp(link_type_, data, hdr->caplen, &v)) in = Match(v);
      if (in == nullptr) {
        if (decoder_.Decode(link_type_, data, hdr->caplen, hdr->len, ts, &out[r.packets]) ==
            DecodeResult::kOk) {
          ++r.packets;
        }
        continue;
      }
      ++flow_datagrams_;
      if (v.fragment) {
        in->CountUnusable(FlowDropReason::kFragmentedDatagram);
      } else if (v.truncated) {
        in->CountUnusable(FlowDropReason::kTruncatedDatagram);
      } else {
        in->Handle(v.src, v.payload, v.payload_len, ts);
        r.packets += in->TakePackets(out.subspan(r.packets));
      }
    }
    return r;
  }

  std::vector<FlowRecord> TakeFlowRecords() {
    if (inputs_.size() == 1) return inputs_[0]->TakeFlowRecords();
    std::vector<FlowRecord> all;
    for (auto& in : inputs_) {
      std::vector<FlowRecord> r = in->TakeFlowRecords();
      all.insert(all.end(), r.begin(), r.end());
    }
    // One Poll's records from several inputs: back into capture order.
    std::stable_sort(all.begin(), all.end(), [](const FlowRecord& a, const FlowRecord& b) {
      return a.received < b.received;
    });
    return all;
  }

  std::vector<SflowInterfaceCounters> TakeInterfaceCounters() {
    std::vector<SflowInterfaceCounters> all;
    for (auto& in : inputs_) {
      std::vector<SflowInterfaceCounters> c = in->TakeInterfaceCounters();
      all.insert(all.end(), c.begin(), c.end());
    }
    return all;
  }

  const Decoder& decoder() const { return decoder_; }
  const std::string& path() const { return path_; }
  std::uint64_t frames_read() const { return frames_read_; }
  std::uint64_t flow_datagrams() const { return flow_datagrams_; }
  std::size_t input_count() const { return inputs_.size(); }
  const FlowDatagramDecoder& input(std::size_t i) const { return *inputs_[i]; }

 private:
  FlowDatagramDecoder* Match(const UdpView& v) {
    for (auto& in : inputs_) {
      const FlowInputOptions& o = in->options();
      if (o.port == v.dst_port && (IsUnspecified(o.listen_address) || o.listen_address == v.dst)) {
        return in.get();
      }
    }
    return nullptr;
  }

  std::size_t pending() const {
    std::size_t n = 0;
    for (const auto& in : inputs_) n += in->pending_packets();
    return n;
  }

  std::size_t DrainSamples(std::span<PacketMeta> out) {
    std::size_t n = 0;
    for (auto& in : inputs_) n += in->TakePackets(out.subspan(n));
    return n;
  }

  PcapHandle pcap_;
  std::string path_;
  int link_type_;
  Decoder decoder_;
  std::vector<std::unique_ptr<FlowDatagramDecoder>> inputs_;
  std::uint64_t frames_read_ = 0;
  std::uint64_t flow_datagrams_ = 0;
  bool done_ = false;
};

}  // namespace internal

Result<std::unique_ptr<FlowProtocolReplaySource>> FlowProtocolReplaySource::Open(
    const std::string& path, const FlowReplayOptions& options, const DecodeOptions& decode,
    const SiteClassifier* site) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (p == nullptr) return Status::Error(path + ": cannot open capture: " + errbuf);
  auto impl = std::make_unique<internal::FlowReplayImpl>(internal::PcapHandle(p), path, options,
                                                         decode, site);
  return std::unique_ptr<FlowProtocolReplaySource>(new FlowProtocolReplaySource(std::move(impl)));
}

FlowProtocolReplaySource::FlowProtocolReplaySource(std::unique_ptr<internal::FlowReplayImpl> impl)
    : impl_(std::move(impl)) {}
FlowProtocolReplaySource::~FlowProtocolReplaySource() = default;

PollResult FlowProtocolReplaySource::Poll(std::span<PacketMeta> out) {
  return impl_->Poll(out);
}

SourceStats FlowProtocolReplaySource::Stats() const {
  SourceStats s;
  s.received = impl_->frames_read();
  return s;
}

const Decoder& FlowProtocolReplaySource::decoder() const {
  return impl_->decoder();
}
std::string FlowProtocolReplaySource::Name() const {
  return "flowreplay:" + impl_->path();
}
std::vector<FlowRecord> FlowProtocolReplaySource::TakeFlowRecords() {
  return impl_->TakeFlowRecords();
}
std::vector<SflowInterfaceCounters> FlowProtocolReplaySource::TakeInterfaceCounters() {
  return impl_->TakeInterfaceCounters();
}
std::uint64_t FlowProtocolReplaySource::flow_datagrams() const {
  return impl_->flow_datagrams();
}
std::size_t FlowProtocolReplaySource::input_count() const {
  return impl_->input_count();
}
const FlowDatagramDecoder& FlowProtocolReplaySource::input(std::size_t i) const {
  return impl_->input(i);
}

}  // namespace weighbridge::capture
