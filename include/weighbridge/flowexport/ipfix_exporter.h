// IPFIX export (RFC 7011) of weighbridge's own flow records, so that a site can keep its existing
// flow collector (nfcapd, pmacct, ...). Each FlowUpdate becomes one IPFIX data record per
// direction that carried packets; templates are sent with the first message and then every
// `template_refresh_messages` messages, as RFC 7011 8.4 asks of UDP exporters.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/core/counter.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/result.h"

namespace weighbridge::flowexport {

// Template ids of the two record layouts (IPv4 and IPv6 endpoints).
inline constexpr std::uint16_t kTemplateIpv4 = 256;
inline constexpr std::uint16_t kTemplateIpv6 = 257;

// Builds IPFIX messages from flow updates. Pure encoding, no I/O; one thread.
class IpfixEncoder {
 public:
  IpfixEncoder(std::uint32_t observation_domain, std::size_t max_message_bytes,
               std::uint32_t template_refresh_messages);

  // Adds the update's records (a->b and b->a, each when it has packets). A message that would
  // grow past max_message_bytes is finished first. The message header's export time is the
  // stream time (seconds) of the latest update in it, so a replay exports the same bytes.
  void Add(const analytics::FlowUpdate& u);
  // Finishes the message being built, if it holds any record.
  void Finish();
  // The finished messages, oldest first.
  std::vector<std::vector<std::uint8_t>> TakeMessages();
  std::uint64_t records() const { return sequence_; }

 private:
  void AddRecord(bool v6, const IpAddress& src, const IpAddress& dst, std::uint16_t sport,
                 std::uint16_t dport, const analytics::FlowUpdate& u,
                 const analytics::DirectionCounters& c);
  void StartMessage(bool with_templates);

  std::uint32_t domain_;
  std::size_t max_bytes_;
  std::uint32_t refresh_;
  std::uint32_t messages_ = 0;
  std::uint64_t sequence_ = 0;         // data records exported so far (RFC 7011 3.1)
  std::uint32_t message_records_ = 0;  // data records in the message being built
  std::int64_t export_secs_ = 0;
  std::vector<std::uint8_t> msg_;
  std::size_t set_start_ = 0;  // offset of the open data set's header, 0: none open
  std::uint16_t set_template_ = 0;
  std::vector<std::vector<std::uint8_t>> done_;
};

struct IpfixExportOptions {
  IpAddress collector;        // where to send (IPv4 or IPv6)
  std::uint16_t port = 4739;  // IANA's IPFIX port
  std::uint32_t observation_domain = 1;
  std::size_t max_message_bytes = 1400;  // stays under a 1500-byte MTU with IP/UDP headers
  std::uint32_t template_refresh_messages = 16;
  // A message not yet full is sent once a watermark is this much stream time past the last
  // send, so a quiet link's records do not wait for a full message.
  std::int64_t flush_interval_ns = 1'000'000'000;
};

// A FlowSink that exports over UDP. Call from one thread (the merger's, downstream of it);
// counters may be read anywhere.
class IpfixExporter final : public analytics::FlowSink {
 public:
  static Result<std::unique_ptr<IpfixExporter>> Open(const IpfixExportOptions& options);
  ~IpfixExporter() override;
  IpfixExporter(const IpfixExporter&) = delete;
  IpfixExporter& operator=(const IpfixExporter&) = delete;

  void OnFlowUpdate(const analytics::FlowUpdate& u) override;
  // Sends the message being built when the watermark is flush_interval_ns past the last flush.
  void OnWatermark(StreamTime watermark) override;
  // Sends what is buffered. Fails (after sending what it could) when a send failed since the
  // last Flush; the failures are also counted.
  Status Flush();

  std::uint64_t messages_sent() const { return messages_sent_.Get(); }
  std::uint64_t records_exported() const { return records_.Get(); }
  // "192.0.2.5:4739", "[2001:db8::5]:4739"
  std::string collector() const;
  std::uint64_t send_errors() const { return send_errors_.Get(); }

 private:
  IpfixExporter(const IpfixExportOptions& options, int fd);
  void SendFinished();

  IpfixExportOptions options_;
  int fd_;
  IpfixEncoder encoder_;
  RelaxedCounter messages_sent_;
  RelaxedCounter records_;  // the encoder's count, readable from any thread
  RelaxedCounter send_errors_;
  std::string last_error_;
  std::int64_t flushed_at_ns_ = INT64_MIN;  // stream time of the last watermark flush
};

}  // namespace weighbridge::flowexport
