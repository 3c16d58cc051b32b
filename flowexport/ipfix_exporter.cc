// IPFIX message layout (RFC 7011): a 16-byte message header, a template set (id 2) when due, and
// data sets (id = template id) of fixed-length records. Numbers are the IANA information
// elements; octet and packet counts are 8-byte deltas, times are flowStart/EndMilliseconds.
#include "weighbridge/flowexport/ipfix_exporter.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "weighbridge/core/bytes.h"

namespace weighbridge::flowexport {
namespace {

constexpr std::size_t kHeaderBytes = 16;
constexpr std::uint16_t kVersion = 10;
constexpr std::uint16_t kTemplateSetId = 2;

struct Ie {
  std::uint16_t id;
  std::uint16_t length;
};
// sourceIPv4Address, destinationIPv4Address (or the IPv6 pair), ports, protocol, tcpControlBits,
// vlanId, octetDeltaCount, packetDeltaCount, flowStartMilliseconds, flowEndMilliseconds.
constexpr Ie kFields4[] = {{8, 4},  {12, 4}, {7, 2}, {11, 2},  {4, 1},  {6, 1},
                           {58, 2}, {1, 8},  {2, 8}, {152, 8}, {153, 8}};
constexpr Ie kFields6[] = {{27, 16}, {28, 16}, {7, 2}, {11, 2},  {4, 1},  {6, 1},
                           {58, 2},  {1, 8},   {2, 8}, {152, 8}, {153, 8}};
constexpr std::size_t kRecord4Bytes = 48;
constexpr std::size_t kRecord6Bytes = 72;

void Put8(std::vector<std::uint8_t>& b, std::uint8_t v) {
  b.push_back(v);
}
void Put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void Put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  Put16(b, static_cast<std::uint16_t>(v >> 16));
  Put16(b, static_cast<std::uint16_t>(v));
}
void Put64(std::vector<std::uint8_t>& b, std::uint64_t v) {
  Put32(b, static_cast<std::uint32_t>(v >> 32));
  Put32(b, static_cast<std::uint32_t>(v));
}

template <std::size_t N>
void PutTemplate(std::vector<std::uint8_t>& b, std::uint16_t id, const Ie (&fields)[N]) {
  Put16(b, id);
  Put16(b, static_cast<std::uint16_t>(N));
  for (const Ie& f : fields) {
    Put16(b, f.id);
    Put16(b, f.length);
  }
}

}  // namespace

IpfixEncoder::IpfixEncoder(std::uint32_t observation_domain, std::size_t max_message_bytes,
                           std::uint32_t template_refresh_messages)
    : domain_(observation_domain),
      max_bytes_(max_message_bytes < 256 ? 256 : max_message_bytes),
      refresh_(template_refresh_messages == 0 ? 1 : template_refresh_messages) {}

void IpfixEncoder::StartMessage(bool with_templates) {
  msg_.clear();
  msg_.resize(kHeaderBytes);  // filled in by Finish
  message_records_ = 0;
  set_start_ = 0;
  if (with_templates) {
    const std::size_t at = msg_.size();
    Put16(msg_, kTemplateSetId);
    Put16(msg_, 0);
    PutTemplate(msg_, kTemplateIpv4, kFields4);
    PutTemplate(msg_, kTemplateIpv6, kFields6);
    StoreBe16(&msg_[at + 2], static_cast<std::uint16_t>(msg_.size() - at));
  }
}

void IpfixEncoder::Finish() {
  if (msg_.empty() || message_records_ == 0) return;
  if (set_start_ != 0) {
    StoreBe16(&msg_[set_start_ + 2], static_cast<std::uint16_t>(msg_.size() - set_start_));
  }
  StoreBe16(&msg_[0], kVersion);
  StoreBe16(&msg_[2], static_cast<std::uint16_t>(msg_.size()));
  StoreBe32(&msg_[4], static_cast<std::uint32_t>(export_secs_));
  StoreBe32(&msg_[8], static_cast<std::uint32_t>(sequence_ - message_records_));
  StoreBe32(&msg_[12], domain_);
  done_.push_back(std::move(msg_));
  msg_.clear();
  set_start_ = 0;
  message_records_ = 0;
  ++messages_;
}

void IpfixEncoder::AddRecord(bool v6, const IpAddress& src, const IpAddress& dst,
                             std::uint16_t sport, std::uint16_t dport,
                             const analytics::FlowUpdate& u,
                             const analytics::DirectionCounters& c) {
  const std::uint16_t tmpl = v6 ? kTemplateIpv6 : kTemplateIpv4;
  const std::size_t rec = v6 ? kRecord6Bytes : kRecord4Bytes;
  const std::size_t need = rec + (set_start_ != 0 && set_template_ == tmpl ? 0 : 4);
  if (!msg_.empty() && msg_.size() + need > max_bytes_) Finish();
  if (msg_.empty()) StartMessage(messages_ % refresh_ == 0);
  if (set_start_ == 0 || set_template_ != tmpl) {
    if (set_start_ != 0) {
      StoreBe16(&msg_[set_start_ + 2], static_cast<std::uint16_t>(msg_.size() - set_start_));
    }
    set_start_ = msg_.size();
    set_template_ = tmpl;
    Put16(msg_, tmpl);
    Put16(msg_, 0);
  }
  if (v6) {
    msg_.insert(msg_.end(), src.bytes.begin(), src.bytes.end());
    msg_.insert(msg_.end(), dst.bytes.begin(), dst.bytes.end());
  } else {
    msg_.insert(msg_.end(), src.bytes.begin() + 12, src.bytes.end());
    msg_.insert(msg_.end(), dst.bytes.begin() + 12, dst.bytes.end());
  }
  Put16(msg_, sport);
  Put16(msg_, dport);
  Put8(msg_, u.key.proto);
  Put8(msg_, u.key.proto == 6 ? u.tcp_flags : 0);
  Put16(msg_, u.key.vlan);
  Put64(msg_, c.l3_bytes);
  Put64(msg_, c.packets);
  Put64(msg_, static_cast<std::uint64_t>(u.first.ns / 1'000'000));
  Put64(msg_, static_cast<std::uint64_t>(u.last.ns / 1'000'000));
  ++sequence_;
  ++message_records_;
}

void IpfixEncoder::Add(const analytics::FlowUpdate& u) {
  const bool v6 = !u.key.a.IsV4() || !u.key.b.IsV4();
  const std::int64_t secs = u.at.ns / kNanosPerSecond;
  if (secs > export_secs_) export_secs_ = secs;
  if (u.a_to_b.packets != 0) {
    AddRecord(v6, u.key.a, u.key.b, u.key.a_port, u.key.b_port, u, u.a_to_b);
  }
  if (u.b_to_a.packets != 0) {
    AddRecord(v6, u.key.b, u.key.a, u.key.b_port, u.key.a_port, u, u.b_to_a);
  }
}

std::vector<std::vector<std::uint8_t>> IpfixEncoder::TakeMessages() {
  std::vector<std::vector<std::uint8_t>> r;
  r.swap(done_);
  return r;
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<IpfixExporter>> IpfixExporter::Open(const IpfixExportOptions& options) {
  const int fd = ::socket(options.collector.IsV4() ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
  const std::string where = "IPFIX export to " + EndpointString(options.collector, options.port);
  if (fd < 0) return Status::Error(where + ": socket: " + std::strerror(errno));
  // connect() fixes the destination, so each send is a plain send() and ICMP errors surface.
  int rc = 0;
  if (options.collector.IsV4()) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(options.port);
    sa.sin_addr.s_addr = htonl(options.collector.V4HostOrder());
    rc = ::connect(fd, static_cast<const sockaddr*>(static_cast<const void*>(&sa)), sizeof(sa));
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(options.port);
    std::memcpy(&sa.sin6_addr, options.collector.bytes.data(), 16);
    rc = ::connect(fd, static_cast<const sockaddr*>(static_cast<const void*>(&sa)), sizeof(sa));
  }
  if (rc != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Status::Error(where + ": connect: " + why);
  }
  return std::unique_ptr<IpfixExporter>(new IpfixExporter(options, fd));
}

IpfixExporter::IpfixExporter(const IpfixExportOptions& options, int fd)
    : options_(options),
      fd_(fd),
      encoder_(options.observation_domain, options.max_message_bytes,
               options.template_refresh_messages) {}

IpfixExporter::~IpfixExporter() {
  ::close(fd_);
}

std::string IpfixExporter::collector() const {
  return EndpointString(options_.collector, options_.port);
}

void IpfixExporter::OnFlowUpdate(const analytics::FlowUpdate& u) {
  encoder_.Add(u);
  records_.Set(encoder_.records());
  SendFinished();
}

void IpfixExporter::OnWatermark(StreamTime watermark) {
  if (flushed_at_ns_ != INT64_MIN && watermark.ns - flushed_at_ns_ < options_.flush_interval_ns) {
    return;
  }
  flushed_at_ns_ = watermark.ns;
  encoder_.Finish();
  SendFinished();
}

void IpfixExporter::SendFinished() {
  for (const std::vector<std::uint8_t>& m : encoder_.TakeMessages()) {
    if (::send(fd_, m.data(), m.size(), 0) == static_cast<ssize_t>(m.size())) {
      messages_sent_.Add(1);
    } else {
      send_errors_.Add(1);
      last_error_ = std::strerror(errno);
    }
  }
}

Status IpfixExporter::Flush() {
  encoder_.Finish();
  SendFinished();
  if (last_error_.empty()) return Status::Ok();
  Status s = Status::Error("IPFIX export to " + collector() + ": send: " + last_error_);
  last_error_.clear();
  return s;
}

}  // namespace weighbridge::flowexport
