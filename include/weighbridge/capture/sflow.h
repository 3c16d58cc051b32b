// The sFlow v5 parser: flow samples and expanded flow samples whose raw packet header records
// go through a capture::Decoder into weighted PacketMeta; counter samples (generic interface
// counters) are kept for metrics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weighbridge/capture/decode.h"
#include "weighbridge/capture/flow_record.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture {

// sFlow's generic interface counters (counter record enterprise 0, format 1) as the agent sent
// them: cumulative since the interface came up.
struct SflowInterfaceCounters {
  IpAddress exporter; /**< the datagram's source address */
  IpAddress agent;    /**< agent address from the sFlow header */
  std::uint32_t sub_agent = 0;
  std::uint32_t source_id = 0; /**< data source: type << 24 | index */
  StreamTime received;         /**< arrival (capture) time, ns */
  std::uint32_t if_index = 0;
  std::uint32_t if_type = 0;
  std::uint64_t if_speed_bps = 0;
  std::uint32_t if_direction = 0;
  std::uint32_t if_status = 0;
  std::uint64_t in_octets = 0; /**< bytes */
  std::uint32_t in_unicast_packets = 0;
  std::uint32_t in_multicast_packets = 0;
  std::uint32_t in_broadcast_packets = 0;
  std::uint32_t in_discards = 0;
  std::uint32_t in_errors = 0;
  std::uint32_t in_unknown_protos = 0;
  std::uint64_t out_octets = 0; /**< bytes */
  std::uint32_t out_unicast_packets = 0;
  std::uint32_t out_multicast_packets = 0;
  std::uint32_t out_broadcast_packets = 0;
  std::uint32_t out_discards = 0;
  std::uint32_t out_errors = 0;
};

// Not thread-safe: one thread parses. Owns the Decoder its sampled headers go through, so the
// sampled packets stay out of the capture decoder's (unweighted) counters.
class SflowParser {
 public:
  SflowParser(const DecodeOptions& decode, const SiteClassifier* site,
              FlowProtocolCounters* counters);

  // Parses one UDP payload from `exporter` received at `received`. Each decoded sampled header
  // becomes a PacketMeta (ts = received: sFlow carries no absolute time) with sample_weight =
  // the sample's sampling rate, appended to *packets; counter samples go to *interface_counters
  // (may be null to ignore them). Never reads outside [data, data + len).
  void Parse(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
             StreamTime received, std::vector<PacketMeta>* packets,
             std::vector<SflowInterfaceCounters>* interface_counters);

  // The decoder of the sampled headers: its counters are per sample (unweighted), its reasons
  // say why a sampled header was not accounted.
  const Decoder& decoder() const { return decoder_; }

 private:
  Decoder decoder_;
  FlowProtocolCounters* counters_;
};

}  // namespace weighbridge::capture
