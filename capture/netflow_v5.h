// NetFlow v5: a fixed 24-byte header and up to 30 fixed 48-byte records; no templates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weighbridge/capture/flow_record.h"

namespace weighbridge::capture::internal {

// Parses one v5 datagram (the version field already read as 5). Appends records to *out and
// counts drops in *counters.
void ParseNetflowV5(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
                    StreamTime received, std::vector<FlowRecord>* out,
                    FlowProtocolCounters* counters);

// Exporter time of a sysUpTime-relative timestamp: the header says that at `export_ns` the
// exporter's uptime was `uptime_ms`; `at_ms` is another uptime reading, normally a little
// earlier. The difference is taken modulo 2^32 (uptime wraps after 49.7 days) as a signed value.
inline StreamTime UptimeToStreamTime(std::int64_t export_ns, std::uint32_t uptime_ms,
                                     std::uint32_t at_ms) {
  const auto behind_ms = static_cast<std::int32_t>(uptime_ms - at_ms);
  return StreamTime::FromNanos(export_ns - std::int64_t{behind_ms} * 1'000'000);
}

}  // namespace weighbridge::capture::internal
