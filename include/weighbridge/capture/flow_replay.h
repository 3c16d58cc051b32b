// Replay of a capture that holds flow-protocol datagrams (ARCHITECTURE.md "Flow protocols in a
// replay"): ordinary frames are decoded and accounted as usual; UDP datagrams sent to a
// configured flow-protocol port are decoded as that protocol, with the capture's timestamps,
// instead of being accounted as traffic.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weighbridge/capture/flow_collector.h"
#include "weighbridge/capture/flow_record.h"
#include "weighbridge/capture/source.h"
#include "weighbridge/core/result.h"

namespace weighbridge::capture {

// Filled in by app/ (app/flowproto_wiring.h) from the config's sflow/ipfix/netflow entries.
struct FlowReplayOptions {
  std::vector<FlowInputOptions> inputs;  // at most one per (address, port)
};

namespace internal {
class FlowReplayImpl;
}

// A PacketSource over a pcap/pcapng file ("-": standard input). Poll returns the accounted
// ordinary frames and sFlow's sampled packets (sample_weight = the sampling rate, ts = the
// datagram's capture time), in capture order. After each Poll the caller takes the flow
// records (IPFIX / NetFlow) that Poll decoded with TakeFlowRecords(). One thread polls.
//
// decoder() is the decoder of the ordinary frames: its counters do not include the flow-protocol
// datagrams (see flow_datagrams()) nor the sampled packets (see each input's counters).
class FlowProtocolReplaySource final : public PacketSource {
 public:
  static Result<std::unique_ptr<FlowProtocolReplaySource>> Open(const std::string& path,
                                                                const FlowReplayOptions& options,
                                                                const DecodeOptions& decode,
                                                                const SiteClassifier* site);
  ~FlowProtocolReplaySource() override;

  PollResult Poll(std::span<PacketMeta> out) override;
  SourceStats Stats() const override;  // received: every record read, flow datagrams included
  const Decoder& decoder() const override;
  std::string Name() const override;  // "flowreplay:PATH"

  // Flow records decoded since the last call, in capture order (all inputs).
  std::vector<FlowRecord> TakeFlowRecords();
  // sFlow counter samples decoded since the last call.
  std::vector<SflowInterfaceCounters> TakeInterfaceCounters();
  // Frames taken as flow-protocol datagrams (to an input's port, whatever became of them).
  std::uint64_t flow_datagrams() const;
  std::size_t input_count() const;
  const FlowDatagramDecoder& input(std::size_t i) const;

 private:
  explicit FlowProtocolReplaySource(std::unique_ptr<internal::FlowReplayImpl> impl);
  std::unique_ptr<internal::FlowReplayImpl> impl_;
};

}  // namespace weighbridge::capture
