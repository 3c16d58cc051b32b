// libFuzzer target for capture::FlowRecordParser (IPFIX, NetFlow v9 and v5). The input is a
// sequence of datagrams, each preceded by a 2-byte big-endian length and a 1-byte selector
// (exporter and time step), so that one input can define templates and then use, withdraw or
// outlive them. A fresh parser per input keeps every crash reproducible from its input alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "weighbridge/capture/ipfix.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weighbridge::capture;  // NOLINT(google-build-using-namespace): fuzz target
  if (size > 1u << 18) return 0;
  FlowProtocolCounters counters;
  FlowParserOptions options;
  options.template_timeout_ns = 1000;  // the selector's time steps can expire templates
  options.max_templates = 16;          // and fill the table
  FlowRecordParser parser(options, &counters);
  std::vector<FlowRecord> out;
  std::int64_t now = 1;
  std::size_t off = 0;
  while (size - off >= 3) {
    const std::size_t len = (std::size_t{data[off]} << 8) | data[off + 1];
    const std::uint8_t sel = data[off + 2];
    off += 3;
    const std::size_t n = len < size - off ? len : size - off;
    now += (sel >> 2) * 100;
    parser.Parse(weighbridge::IpAddress::V4(0xC0000200u | (sel & 3)), data + off, n,
                 weighbridge::StreamTime::FromNanos(now), &out);
    off += n;
  }
  for (const FlowRecord& r : out) {
    if (r.sampling_interval == 0) std::abort();
  }
  if (counters.flow_records.Get() != out.size()) std::abort();
  return 0;
}
