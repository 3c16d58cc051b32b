// libFuzzer target for capture::SflowParser: the input is one sFlow datagram. Invariants: every
// sampled packet carries the sample's (non-zero) weight and lengths the wire could carry.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "weighbridge/capture/sflow.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weighbridge::capture;  // NOLINT(google-build-using-namespace): fuzz target
  if (size > 1u << 16) return 0;         // a UDP payload is at most 65535 bytes
  static FlowProtocolCounters* const counters = new FlowProtocolCounters();
  static SflowParser* const parser = new SflowParser(DecodeOptions{}, nullptr, counters);
  std::vector<PacketMeta> packets;
  std::vector<SflowInterfaceCounters> ifc;
  parser->Parse(weighbridge::IpAddress::V4(0x7f000001), data, size,
                weighbridge::StreamTime::FromNanos(1), &packets, &ifc);
  for (const PacketMeta& m : packets) {
    if (m.sample_weight == 0 || m.payload_bytes > m.l3_bytes) std::abort();
    if (m.l3_bytes > m.wire_bytes && m.l3_bytes > size) std::abort();
  }
  return 0;
}
