// The replay pipeline: a capture source through decode and the flow table to the outputs.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "flow_output.h"
#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/detectors.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/model_catalog.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/capture/source.h"

namespace weighbridge::app {

struct ReplayOptions {
  analytics::PipelineOptions pipeline;
  analytics::SessionizerOptions sessionizer;
  bool progress = false;  // a progress line on stderr (only when stderr is a terminal)
  analytics::DetectOptions detect;
  const analytics::ModelCatalog* catalog = nullptr;  // not owned; null: no model matching
  bool keep_flows = true;      // collect every flow for --flows-out (memory: one entry per flow)
  bool keep_transfers = true;  // collect ended transfers for --transfers-out
};

struct ReplayResult {
  ReplaySummary summary;
  std::vector<FlowLine> flows;
  std::vector<analytics::Transfer> transfers;  // final state, ordered by first time then id
  std::vector<analytics::Alert> alerts;        // every version, in the order they were raised
  bool interrupted = false;
};

// Reads `source` to its end (or until `stop` is set), accounting every packet; then flushes
// every flow. Deterministic: depends only on the packets and options.
ReplayResult RunReplay(capture::PacketSource& source, const ReplayOptions& options,
                       const std::atomic<bool>& stop);

}  // namespace weighbridge::app
