// Flow records as analytics emits them, the sink interface outputs implement, and the pipeline's
// options.
#pragma once

#include <cmath>
#include <cstdint>

#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::analytics {

// Filled in by app/ from `pipeline:`.
struct PipelineOptions {
  unsigned workers = 2;                     // shard worker threads, 1-64
  std::uint64_t flow_capacity = 1'000'000;  // flows tracked at once, over all shards, >= 1024
  std::int64_t idle_timeout_ns = 60 * kNanosPerSecond;    // a flow silent this long has ended
  std::int64_t active_timeout_ns = 60 * kNanosPerSecond;  // a running flow is reported this often
  // After a RST, or FINs from both sides, packets within this much stream time still belong to
  // the flow (late ACKs, retransmitted FINs); then it ends.
  std::int64_t close_linger_ns = 5 * kNanosPerSecond;
  // When set, each flow's direction and tenant come from here, once per flow at its first
  // packet, rather than from the decoder per packet (the capture thread is the one to spare).
  // Not owned; read-only and shared by all shards.
  const capture::SiteClassifier* site = nullptr;
  friend bool operator==(const PipelineOptions&, const PipelineOptions&) = default;
};

// The longest a flow's first update can come after its first packet: a flow shorter than the
// active timeout is first reported when it ends, an idle timeout or a close linger after its last
// packet. (The sessionizer ends a transfer only when no update still to come could belong to it.)
inline std::int64_t MaxFirstUpdateDelayNs(const PipelineOptions& o) {
  return o.active_timeout_ns +
         (o.idle_timeout_ns > o.close_linger_ns ? o.idle_timeout_ns : o.close_linger_ns);
}

// A bidirectional flow's identity. `a` is the endpoint that sent the first packet seen.
struct FlowKey {
  IpAddress a;
  IpAddress b;
  std::uint16_t a_port = 0;
  std::uint16_t b_port = 0;
  std::uint16_t vlan = 0;  // outermost VLAN id, 0 untagged
  std::uint8_t proto = 0;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

// What a sampled estimate's error follows from. Under 1-in-N packet sampling a packet of b bytes
// is seen with probability 1/N and then stands for N * b bytes; the estimate N * sum(b) is
// unbiased, with variance sum over all packets of (N - 1) * b^2, estimated without bias from the
// packets seen as sum over them of N * (N - 1) * b^2. Variances of independent samples add, so
// these add up like the counts they describe. Both zero for counts taken from every packet.
struct SampleStats {
  std::uint64_t samples = 0;   /**< sampled packets the counts were scaled up from */
  double payload_variance = 0; /**< bytes^2: estimated variance of the payload_bytes estimate */
  SampleStats& operator+=(const SampleStats& o) {
    samples += o.samples;
    payload_variance += o.payload_variance;
    return *this;
  }
  bool sampled() const { return samples != 0; }
  // One standard error of the payload estimate, bytes.
  double PayloadStddev() const { return payload_variance > 0 ? std::sqrt(payload_variance) : 0; }
  friend bool operator==(const SampleStats&, const SampleStats&) = default;
};

// Counters of one direction of a flow.
struct DirectionCounters {
  std::uint64_t packets = 0;  /**< packets (scaled by sample weight) */
  std::uint64_t l3_bytes = 0; /**< bytes: L3 lengths from the IP headers */
  std::uint64_t payload_bytes =
      0;                /**< bytes: unique TCP payload (retransmissions once), UDP payload */
  SampleStats sampling; /**< the sampling error of the counts above (zero: counted exactly) */
  DirectionCounters() = default;
  DirectionCounters(std::uint64_t packets_, std::uint64_t l3_bytes_, std::uint64_t payload_bytes_,
                    SampleStats sampling_ = {})
      : packets(packets_),
        l3_bytes(l3_bytes_),
        payload_bytes(payload_bytes_),
        sampling(sampling_) {}
  DirectionCounters& operator+=(const DirectionCounters& o) {
    packets += o.packets;
    l3_bytes += o.l3_bytes;
    payload_bytes += o.payload_bytes;
    sampling += o.sampling;
    return *this;
  }
  friend bool operator==(const DirectionCounters&, const DirectionCounters&) = default;
};

enum class FlowEndReason : std::uint8_t {
  kActive,   // still running: active timeout report (more updates follow)
  kIdle,     // idle timeout
  kClosed,   // TCP FIN from both sides or RST, then the linger elapsed
  kEvicted,  // pushed out of a full table
  kFlushed,  // end of input or shutdown
};
const char* FlowEndReasonName(FlowEndReason r);

// What a shard emits about a flow: the counts since its previous update for the same flow
// (so updates of one flow add up), with the flow's whole time span so far. Crosses from
// analytics to the outputs by value.
struct FlowUpdate {
  FlowKey key;
  std::uint64_t flow_id =
      0;                      /**< unique per flow instance in this process and stable across
                                   worker counts: (first ts, key) hash; updates of one flow share it */
  StreamTime first;           /**< first packet of the flow, ns */
  StreamTime last;            /**< latest packet so far, ns */
  DirectionCounters a_to_b;   /**< delta since the previous update */
  DirectionCounters b_to_a;   /**< delta since the previous update */
  std::uint8_t tcp_flags = 0; /**< OR of TCP flags seen in this interval, both directions */
  capture::Direction direction = capture::Direction::kTransit; /**< of the first packet (a -> b) */
  std::uint16_t tenant = 0; /**< tenant index + 1 of the inside end, 0 none */
  FlowEndReason reason = FlowEndReason::kActive;
  bool first_update = true; /**< the flow's first update (consumers count flows by it) */
  StreamTime at;            /**< event time, ns: when this update happened in stream time,
                                 decided from packet times alone (idle: last + idle timeout;
                                 active: the packet that crossed the boundary), so consumers
                                 can order updates from all shards deterministically */
};

// Receives flow updates. Called on the shard thread that owns the flow; an implementation that
// is shared between shards must be safe for that (or be one instance per shard).
class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void OnFlowUpdate(const FlowUpdate& update) = 0;
  // Promises that every later update from the same producer has `at` >= watermark.
  virtual void OnWatermark(StreamTime /*watermark*/) {}
};

}  // namespace weighbridge::analytics
