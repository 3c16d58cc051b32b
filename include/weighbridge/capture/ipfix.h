// The flow-record parser: IPFIX (RFC 7011), NetFlow v9 (RFC 3954) and NetFlow v5 datagrams into
// FlowRecords, with templates kept per (exporter, observation domain / source id), template
// withdrawal and expiry, and sampling information from options records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "weighbridge/capture/flow_record.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture {

struct FlowParserOptions {
  // A template not refreshed for this long (in stream time) is forgotten, and data that refers
  // to it counts as unknown_template. Exporters over UDP resend templates periodically (RFC 7011
  // 8.4; softflowd every 16 datagrams, routers every minute or so).
  std::int64_t template_timeout_ns = 1800 * kNanosPerSecond;
  // Live templates over all exporters; one more is dropped as template_table_full. Bounds memory
  // against an exporter that invents template ids.
  std::size_t max_templates = 65536;
  // Sampling states (per exporter, domain and sampler id) kept from options records.
  std::size_t max_samplers = 65536;
  friend bool operator==(const FlowParserOptions&, const FlowParserOptions&) = default;
};

namespace internal {
class FlowRecordParserImpl;
}

// Not thread-safe: one thread parses; `counters` (not owned) has that thread as its one writer.
class FlowRecordParser {
 public:
  FlowRecordParser(const FlowParserOptions& options, FlowProtocolCounters* counters);
  ~FlowRecordParser();
  FlowRecordParser(const FlowRecordParser&) = delete;
  FlowRecordParser& operator=(const FlowRecordParser&) = delete;

  // Parses one UDP payload from `exporter` that arrived at `received` (stream time; it also
  // drives template expiry). The version field picks IPFIX, v9 or v5. Appends the data records
  // to *out; counts every drop by reason. Never reads outside [data, data + len).
  void Parse(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
             StreamTime received, std::vector<FlowRecord>* out);

  std::size_t template_count() const;

 private:
  std::unique_ptr<internal::FlowRecordParserImpl> impl_;
};

}  // namespace weighbridge::capture
