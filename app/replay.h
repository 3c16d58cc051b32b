// The replay pipeline: a capture source through decode and the flow table to the outputs.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "flow_output.h"
#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/detectors.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/model_catalog.h"
#include "weighbridge/analytics/pipeline.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/analytics/update_merger.h"
#include "weighbridge/capture/source.h"

namespace weighbridge::app {

// What the outputs may look at while a replay runs (for metrics scraped on another thread).
struct ReplayRuntime {
  const analytics::ShardedPipeline* pipeline = nullptr;
  const analytics::UpdateMerger* merger = nullptr;
  const capture::PacketSource* source = nullptr;
  const analytics::DetectorEngine* engine = nullptr;
  const analytics::Sessionizer* sessionizer = nullptr;
};

// Extra consumers of what a replay produces (history, metrics, delivery), each called on the
// thread that produces the record, in the same order the replay's own collectors see it.
struct ReplayOutputs {
  std::vector<analytics::FlowSink*> flow_sinks;  // merger thread, event-time order
  std::vector<analytics::TransferSink*> transfer_sinks;
  std::vector<analytics::AlertSink*> alert_sinks;
  // Called once the pipeline runs, and again with nulls just before it is torn down.
  std::function<void(const ReplayRuntime&)> on_runtime;
  // Flow records from flow protocols (IPFIX / NetFlow) found in the capture: called after each
  // poll; the updates it appends enter the merger as one more producer, in the order given, with
  // event times (`at`) that never go backwards. Null: none.
  std::function<void(std::vector<analytics::FlowUpdate>*)> take_flow_updates;
};

struct ReplayOptions {
  analytics::PipelineOptions pipeline;
  analytics::SessionizerOptions sessionizer;
  bool progress = false;  // a progress line on stderr (only when stderr is a terminal)
  analytics::DetectOptions detect;
  const analytics::ModelCatalog* catalog = nullptr;  // not owned; null: no model matching
  bool keep_flows = true;      // collect every flow for --flows-out (memory: one entry per flow)
  bool keep_transfers = true;  // collect ended transfers for --transfers-out
  // Resumable replays (history): called once before the first packet, to restore what an earlier
  // interrupted run saved; and at the end with `interrupted`, to save what is still open. When
  // on_end returns true for an interrupted replay, open transfers and alerts are left open (saved)
  // instead of being ended.
  std::function<void(analytics::Sessionizer*, analytics::DetectorEngine*)> on_start;
  std::function<bool(const analytics::Sessionizer&, const analytics::DetectorEngine&, bool)> on_end;
  // 0: as fast as possible. Otherwise packets are handed on no sooner than their capture time
  // divided by `speed` after the first (1: real time), so scrapes and receivers see it as live.
  double speed = 0;
  ReplayOutputs outputs;
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
