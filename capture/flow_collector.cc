// FlowDatagramDecoder (allow-list + parser of one flow-protocol input) and the live UDP
// collector. The collector uses Boost.Asio for the socket, in non-blocking mode with a bounded
// poll() per Poll call, so the polling thread can check its stop flag between calls; no
// io_context thread, no handlers.
#include "weighbridge/capture/flow_collector.h"

#include <poll.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>

namespace weighbridge::capture {

bool IsUnspecified(const IpAddress& a) {
  if (a.IsV4()) return a.V4HostOrder() == 0;
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

FlowDatagramDecoder::FlowDatagramDecoder(const FlowInputOptions& options,
                                         const DecodeOptions& decode, const SiteClassifier* site)
    : options_(options) {
  for (const Prefix& p : options_.exporters) allowed_.Insert(p, true);
  if (options_.protocol == FlowProtocol::kSflow) {
    sflow_ = std::make_unique<SflowParser>(decode, site, &counters_);
  } else {
    records_parser_ = std::make_unique<FlowRecordParser>(options_.parser, &counters_);
  }
}

void FlowDatagramDecoder::Handle(const IpAddress& exporter, const std::uint8_t* data,
                                 std::size_t len, StreamTime received) {
  if (allowed_.Lookup(exporter) == nullptr) {
    counters_.datagrams.Add(1);
    counters_.datagrams_dropped.Add(1);
    counters_.Drop(FlowDropReason::kExporterNotAllowed);
    return;
  }
  if (sflow_) {
    if (packets_taken_ == packets_.size()) {
      packets_.clear();
      packets_taken_ = 0;
    }
    sflow_->Parse(exporter, data, len, received, &packets_, &interface_counters_);
  } else {
    records_parser_->Parse(exporter, data, len, received, &records_);
  }
}

void FlowDatagramDecoder::CountUnusable(FlowDropReason reason) {
  counters_.datagrams.Add(1);
  counters_.datagrams_dropped.Add(1);
  counters_.Drop(reason);
}

std::size_t FlowDatagramDecoder::TakePackets(std::span<PacketMeta> out) {
  const std::size_t n = std::min(out.size(), packets_.size() - packets_taken_);
  std::copy_n(packets_.begin() + static_cast<std::ptrdiff_t>(packets_taken_), n, out.begin());
  packets_taken_ += n;
  if (packets_taken_ == packets_.size()) {
    packets_.clear();
    packets_taken_ = 0;
  }
  return n;
}

std::vector<FlowRecord> FlowDatagramDecoder::TakeFlowRecords() {
  std::vector<FlowRecord> r;
  r.swap(records_);
  return r;
}

std::vector<SflowInterfaceCounters> FlowDatagramDecoder::TakeInterfaceCounters() {
  std::vector<SflowInterfaceCounters> r;
  r.swap(interface_counters_);
  return r;
}

// ---------------------------------------------------------------------------------------------

namespace {

namespace asio = boost::asio;
using asio::ip::udp;

asio::ip::address ToAsio(const IpAddress& a) {
  if (a.IsV4()) return asio::ip::address_v4(a.V4HostOrder());
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes.begin(), a.bytes.end(), b.begin());
  return asio::ip::address_v6(b);
}

IpAddress FromAsio(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::V4(a.to_v4().to_uint());
  const asio::ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) {
    return IpAddress::V4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
  }
  const asio::ip::address_v6::bytes_type b = v6.to_bytes();
  return IpAddress::V6Bytes(b.data());
}

StreamTime WallNow() {
  const auto d = std::chrono::system_clock::now().time_since_epoch();
  return StreamTime::FromNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// The largest UDP payload over IPv4/IPv6 without jumbograms.
constexpr std::size_t kMaxDatagramBytes = 65535;

}  // namespace

struct FlowCollector::Socket {
  asio::io_context io;
  udp::socket socket{io};
};

Result<std::unique_ptr<FlowCollector>> FlowCollector::Open(const FlowCollectorOptions& options,
                                                           const DecodeOptions& decode,
                                                           const SiteClassifier* site) {
  auto s = std::make_unique<Socket>();
  const udp::endpoint ep(ToAsio(options.input.listen_address), options.input.port);
  boost::system::error_code ec;
  const std::string where = std::string(FlowProtocolName(options.input.protocol)) + " collector " +
                            ep.address().to_string() + ":" + std::to_string(options.input.port);
  s->socket.open(ep.protocol(), ec);
  if (!ec) s->socket.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    // The kernel may cap SO_RCVBUF at net.core.rmem_max: a smaller buffer still works.
    boost::system::error_code ignored;
    s->socket.set_option(asio::socket_base::receive_buffer_size(static_cast<int>(
                             std::min<std::uint64_t>(options.receive_buffer_bytes, 1u << 30))),
                         ignored);
  }
  if (!ec) s->socket.bind(ep, ec);
  if (!ec) s->socket.non_blocking(true, ec);
  if (ec) return Status::Error(where + ": " + ec.message());
  auto c = std::unique_ptr<FlowCollector>(new FlowCollector(options, decode, site, std::move(s)));
  return c;
}

FlowCollector::FlowCollector(const FlowCollectorOptions& options, const DecodeOptions& decode,
                             const SiteClassifier* site, std::unique_ptr<Socket> socket)
    : options_(options),
      decoder_(options.input, decode, site),
      idle_decoder_(decode, site),
      socket_(std::move(socket)),
      buffer_(kMaxDatagramBytes) {
  boost::system::error_code ec;
  local_port_ = socket_->socket.local_endpoint(ec).port();
}

FlowCollector::~FlowCollector() = default;

PollResult FlowCollector::Poll(std::span<PacketMeta> out) {
  PollResult r;
  if (stopped_.load(std::memory_order_relaxed)) {
    r.state = PollResult::State::kEnd;
    return r;
  }
  // Packets left over from a datagram that filled the previous span go out first.
  r.packets = decoder_.TakePackets(out);
  std::size_t datagrams = 0;
  bool waited = false;
  const StreamTime now = WallNow();
  while (r.packets < out.size() && datagrams < options_.max_datagrams_per_poll &&
         decoder_.pending_packets() == 0) {
    udp::endpoint sender;
    boost::system::error_code ec;
    const std::size_t n = socket_->socket.receive_from(asio::buffer(buffer_), sender, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      if (waited || datagrams > 0 || r.packets > 0) break;
      pollfd pfd{socket_->socket.native_handle(), POLLIN, 0};
      waited = true;
      if (::poll(&pfd, 1, options_.poll_timeout_ms) <= 0) break;
      continue;
    }
    if (ec) {
      r.state = PollResult::State::kError;
      r.error = Name() + ": receive failed: " + ec.message();
      return r;
    }
    ++datagrams;
    received_.Add(1);
    decoder_.Handle(FromAsio(sender.address()), buffer_.data(), n, now);
    r.packets += decoder_.TakePackets(out.subspan(r.packets));
  }
  r.state = datagrams > 0 || r.packets > 0 ? PollResult::State::kMore : PollResult::State::kIdle;
  return r;
}

void FlowCollector::Stop() {
  stopped_.store(true, std::memory_order_relaxed);
}

SourceStats FlowCollector::Stats() const {
  SourceStats s;
  s.received = received_.Get();
  return s;
}

const Decoder& FlowCollector::decoder() const {
  const Decoder* d = decoder_.sample_decoder();
  return d != nullptr ? *d : idle_decoder_;
}

std::string FlowCollector::Name() const {
  return std::string(FlowProtocolName(options_.input.protocol)) + ":" +
         EndpointString(options_.input.listen_address, local_port_);
}

}  // namespace weighbridge::capture
