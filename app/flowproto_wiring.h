// Wiring of the flow-protocol inputs (sFlow, IPFIX, NetFlow) into the app: options from the
// config's capture entries, and flow records as analytics::FlowUpdates for the update merger.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/capture/flow_collector.h"
#include "weighbridge/capture/flow_record.h"
#include "weighbridge/capture/flow_replay.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/core/result.h"
#include "weighbridge/flowexport/ipfix_exporter.h"

namespace weighbridge::app {

// Transport payload of a flow record, which has no sequence numbers: the IP bytes less the
// smallest IP and transport headers per packet (IPv4 20 / IPv6 40; TCP 20, UDP 8), never below
// 0, unscaled; 0 for other protocols (as PacketMeta::payload_bytes). An upper bound: TCP options
// (12 bytes of timestamps on a Linux bulk stream, 0.8% of a 1448-byte segment) and retransmissions
// are included.
std::uint64_t EstimatePayloadBytes(const capture::FlowRecord& r);

// One exported flow record as a flow update: a = the record's source, b = its destination
// (flow protocols report one direction per record, so b_to_a is zero); packets, bytes and
// payload scaled by the record's sampling interval; direction and tenant from `site`;
// first/last = the exporter's start/end; `at` = end; first_update = true (each record counts
// as one flow); reason from IPFIX flowEndReason (2 active -> kActive, 3 -> kClosed,
// 4 -> kFlushed, 5 -> kEvicted, otherwise kIdle). flow_id hashes the key, start and exporter.
analytics::FlowUpdate ToFlowUpdate(const capture::FlowRecord& r,
                                   const capture::SiteClassifier& site);

// True when the config has an sflow, ipfix or netflow capture entry.
bool HasFlowProtocolSources(const Config& config);

// Inputs for capture::FlowProtocolReplaySource from the config's sflow/ipfix/netflow entries
// (ARCHITECTURE.md "Flow protocols in a replay"): protocol, listen address and port, exporters.
capture::FlowReplayOptions FlowReplayOptionsFromConfig(const Config& config);

// The `export.ipfix` collectors, each opened as an IpfixExporter (a FlowSink for the merger's
// outputs). Fails naming the collector that could not be set up.
Result<std::vector<std::unique_ptr<flowexport::IpfixExporter>>> OpenIpfixExporters(
    const Config& config);

// The same entries as live collector options, for the daemon.
std::vector<capture::FlowCollectorOptions> FlowCollectorOptionsFromConfig(const Config& config);

}  // namespace weighbridge::app
