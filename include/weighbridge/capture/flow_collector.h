// Flow-protocol inputs: the decoding shared by the live collector and the replay source
// (FlowDatagramDecoder), and the live UDP collector (FlowCollector) for `capture:` entries of
// type sflow, ipfix and netflow.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weighbridge/capture/flow_record.h"
#include "weighbridge/capture/ipfix.h"
#include "weighbridge/capture/sflow.h"
#include "weighbridge/capture/source.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/result.h"

namespace weighbridge::capture {

// One flow-protocol input, filled in by app/ from a `capture: - {type: sflow|ipfix|netflow,
// listen, exporters}` entry.
struct FlowInputOptions {
  FlowProtocol protocol = FlowProtocol::kIpfix;
  // Where datagrams arrive. A replay takes datagrams sent to `port`, and to `listen_address`
  // unless that is unspecified (0.0.0.0 or ::); the live collector binds to both.
  IpAddress listen_address = IpAddress::V4(0);
  std::uint16_t port = 0;
  // Datagrams whose source address is in none of these are dropped (exporter_not_allowed).
  // Empty: every datagram is dropped.
  std::vector<Prefix> exporters;
  FlowParserOptions parser;
  friend bool operator==(const FlowInputOptions&, const FlowInputOptions&) = default;
};

// True when `a` is 0.0.0.0 or :: (listen on every address).
bool IsUnspecified(const IpAddress& a);

// The allow-list check and the parser of one input. Not thread-safe: one thread feeds it.
// Outputs accumulate until taken: sampled packets (sFlow), flow records (IPFIX/NetFlow) and
// interface counters (sFlow counter samples).
class FlowDatagramDecoder {
 public:
  FlowDatagramDecoder(const FlowInputOptions& options, const DecodeOptions& decode,
                      const SiteClassifier* site);
  FlowDatagramDecoder(const FlowDatagramDecoder&) = delete;
  FlowDatagramDecoder& operator=(const FlowDatagramDecoder&) = delete;

  // One UDP payload from `exporter`, received at `received`.
  void Handle(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
              StreamTime received);
  // Counts a datagram that could not be handed over whole (cut by the capture's snaplen, or
  // IP-fragmented) by `reason`.
  void CountUnusable(FlowDropReason reason);

  const FlowInputOptions& options() const { return options_; }
  const FlowProtocolCounters& counters() const { return counters_; }
  // The decoder of sFlow's sampled headers (null for IPFIX/NetFlow inputs).
  const Decoder* sample_decoder() const { return sflow_ ? &sflow_->decoder() : nullptr; }

  // Moves up to out.size() pending sampled packets into `out`; returns how many.
  std::size_t TakePackets(std::span<PacketMeta> out);
  std::size_t pending_packets() const { return packets_.size() - packets_taken_; }
  std::vector<FlowRecord> TakeFlowRecords();
  std::vector<SflowInterfaceCounters> TakeInterfaceCounters();

 private:
  FlowInputOptions options_;
  PrefixMap<bool> allowed_;
  FlowProtocolCounters counters_;
  std::unique_ptr<SflowParser> sflow_;
  std::unique_ptr<FlowRecordParser> records_parser_;
  std::vector<PacketMeta> packets_;
  std::size_t packets_taken_ = 0;
  std::vector<FlowRecord> records_;
  std::vector<SflowInterfaceCounters> interface_counters_;
};

// Live collector: a UDP socket (Boost.Asio) bound to options.listen_address:port. A
// PacketSource: Poll returns sFlow's sampled packets (weighted) and waits at most
// `poll_timeout_ms` for datagrams; after each Poll the caller takes the flow records with
// TakeFlowRecords(). Timestamps are the wall clock at receipt (taken once per Poll burst)
// for sFlow, the exporter's for flow records. One thread polls; Stop() from any thread.
struct FlowCollectorOptions {
  FlowInputOptions input;
  std::uint64_t receive_buffer_bytes = 4u << 20;  // SO_RCVBUF; exporters send in bursts
  int poll_timeout_ms = 10;
  std::size_t max_datagrams_per_poll = 256;
};

class FlowCollector final : public PacketSource {
 public:
  // Binds the socket. Fails with a message naming the address and the OS error.
  static Result<std::unique_ptr<FlowCollector>> Open(const FlowCollectorOptions& options,
                                                     const DecodeOptions& decode,
                                                     const SiteClassifier* site);
  ~FlowCollector() override;

  PollResult Poll(std::span<PacketMeta> out) override;
  void Stop() override;
  SourceStats Stats() const override;
  // The decoder of sampled headers (sFlow), or an idle one for IPFIX/NetFlow inputs.
  const Decoder& decoder() const override;
  std::string Name() const override;  // "sflow:0.0.0.0:6343"

  std::vector<FlowRecord> TakeFlowRecords() { return decoder_.TakeFlowRecords(); }
  std::vector<SflowInterfaceCounters> TakeInterfaceCounters() {
    return decoder_.TakeInterfaceCounters();
  }
  const FlowProtocolCounters& flow_counters() const { return decoder_.counters(); }
  // The bound port (useful when options asked for port 0).
  std::uint16_t local_port() const { return local_port_; }

 private:
  struct Socket;
  FlowCollector(const FlowCollectorOptions& options, const DecodeOptions& decode,
                const SiteClassifier* site, std::unique_ptr<Socket> socket);

  FlowCollectorOptions options_;
  FlowDatagramDecoder decoder_;
  Decoder idle_decoder_;
  std::unique_ptr<Socket> socket_;
  std::vector<std::uint8_t> buffer_;
  std::atomic<bool> stopped_{false};
  std::uint16_t local_port_ = 0;
  RelaxedCounter received_;
};

}  // namespace weighbridge::capture
