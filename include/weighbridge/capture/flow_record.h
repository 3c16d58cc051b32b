// Flow records from exporters (IPFIX, NetFlow v9 and v5) and the counters every flow-protocol
// input keeps: what was decoded, and every datagram, set or record dropped, by a named reason.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weighbridge/core/counter.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture {

// Which protocol a flow-protocol input speaks. kIpfix and kNetflow both accept IPFIX (version
// 10), NetFlow v9 and NetFlow v5 on their port: the version field tells them apart.
enum class FlowProtocol : std::uint8_t { kSflow, kIpfix, kNetflow };
std::string_view FlowProtocolName(FlowProtocol p);  // "sflow", "ipfix", "netflow"

// The wire format a record came in.
enum class FlowRecordFormat : std::uint8_t { kIpfix, kNetflowV9, kNetflowV5 };

// One direction of one flow as an exporter reported it. Counts are as exported (not scaled):
// multiply by `sampling_interval` for the traffic they stand for (ScaledPackets/ScaledL3Bytes).
// Value type; produced by the flow-record parser on its thread and handed to the caller.
struct FlowRecord {
  IpAddress src;              /**< source address of the flow's packets */
  IpAddress dst;              /**< destination address */
  std::uint16_t src_port = 0; /**< 0 for protocols without ports */
  std::uint16_t dst_port = 0; /**< 0 for protocols without ports */
  std::uint16_t vlan = 0;     /**< VLAN id when exported (IE 58 or 243), else 0 */
  std::uint8_t proto = 0;     /**< IP protocol */
  std::uint8_t tcp_flags = 0; /**< OR of the TCP flags of the flow's packets (low 8 bits) */
  std::uint64_t packets = 0;  /**< packets as exported (delta count) */
  std::uint64_t l3_bytes = 0; /**< bytes: IP octets as exported (octetDeltaCount) */
  std::uint32_t sampling_interval = 1;  /**< 1-in-N packet sampling the exporter applied (>= 1) */
  std::uint8_t end_reason = 0;          /**< IPFIX flowEndReason (1 idle, 2 active, 3 end, 4 forced,
                                             5 lack of resources); 0 when not exported */
  StreamTime start;                     /**< first packet, ns since the epoch, from the exporter */
  StreamTime end;                       /**< last packet, ns since the epoch, from the exporter */
  StreamTime received;                  /**< when the datagram arrived (capture time in a replay) */
  IpAddress exporter;                   /**< the datagram's source address */
  std::uint32_t observation_domain = 0; /**< IPFIX observation domain / v9 source id /
                                             v5 engine type << 8 | engine id */
  FlowRecordFormat format = FlowRecordFormat::kIpfix;

  std::uint64_t ScaledPackets() const { return packets * sampling_interval; }
  std::uint64_t ScaledL3Bytes() const { return l3_bytes * sampling_interval; }
};

// Why a flow-protocol datagram, set, sample or record was dropped. Names (ReasonName) are a
// stable interface like capture/decode.h's: never rename or renumber a shipped value; add new
// ones before kCount. docs/flow-protocols.md lists them.
enum class FlowDropReason : std::uint8_t {
  kExporterNotAllowed,  // "exporter_not_allowed": the source address is not in `exporters`
  kTruncatedDatagram,   // "truncated_datagram": shorter than its header, or cut by the capture
  kUnknownVersion,      // "unknown_version": not sFlow 5 / IPFIX 10 / NetFlow 9 or 5
  kBadLength,           // "bad_length": a message length or record count that does not fit
  kTruncatedSet,        // "truncated_set": a set/flowset length below 4 or past the end
  kBadTemplate,         // "bad_template": a template that cannot describe a record
  kUnknownTemplate,     // "unknown_template": a data set before (or after expiry of) its template
  kTemplateTableFull,   // "template_table_full": more live templates than the table holds
  kTruncatedRecord,     // "truncated_record": a variable-length field runs past its set
  kMissingFields,       // "missing_fields": a data record without source/destination address
  kTruncatedSample,     // "truncated_sample": an sFlow sample or record runs past its container
  kBadAgentAddress,     // "bad_agent_address": an sFlow agent address type other than 1 or 2
  kUnsupportedHeaderProtocol,  // "unsupported_header_protocol": sFlow raw header, not Ethernet/IP
  kSampleDecodeError,          // "sample_decode_error": the decoder rejected a sampled header
  kBadSamplingRate,            // "bad_sampling_rate": an sFlow flow sample with sampling rate 0
  kFragmentedDatagram,         // "fragmented_datagram": an IP-fragmented datagram (not reassembled)
  kCount
};
inline constexpr std::size_t kFlowDropReasonCount =
    static_cast<std::size_t>(FlowDropReason::kCount);
std::string_view ReasonName(FlowDropReason r);

// Counters of one flow-protocol input; single writer (the thread that parses), read anywhere.
struct alignas(kCacheLine) FlowProtocolCounters {
  RelaxedCounter datagrams;           // datagrams handed to a parser (allowed or not)
  RelaxedCounter datagrams_dropped;   // whole datagrams dropped (exporter, header, version)
  RelaxedCounter flow_records;        // FlowRecords produced
  RelaxedCounter sflow_flow_samples;  // sFlow flow samples seen (each may carry a header)
  RelaxedCounter sampled_packets;     // sFlow sampled headers decoded into PacketMeta
  RelaxedCounter counter_samples;     // sFlow counter samples kept
  RelaxedCounter templates_learned;   // template records stored (new or refreshed)
  RelaxedCounter templates_withdrawn;
  RelaxedCounter templates_expired;  // not refreshed within the template timeout
  RelaxedCounter options_records;    // options data records (sampling, system init time)
  RelaxedCounter skipped;            // samples/records/sets of formats we do not use, by design
  std::array<RelaxedCounter, kFlowDropReasonCount> dropped;  // by FlowDropReason

  void Drop(FlowDropReason r) noexcept { dropped[static_cast<std::size_t>(r)].Add(1); }
  std::uint64_t Dropped(FlowDropReason r) const noexcept {
    return dropped[static_cast<std::size_t>(r)].Get();
  }
};

}  // namespace weighbridge::capture
