// PacketSource: the one small interface every capture source implements (pcap file, live
// libpcap, DPDK queue, synthetic generator). A source reads frames, decodes them with its own
// Decoder and yields PacketMeta batches. One thread polls a source; Stop() may be called from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "weighbridge/capture/decode.h"
#include "weighbridge/capture/packet_meta.h"

namespace weighbridge::capture {

struct PollResult {
  enum class State : std::uint8_t {
    kMore,   // more may follow at once
    kIdle,   // nothing available right now (live sources); poll again
    kEnd,    // the input ended normally
    kError,  // reading stopped early; `error` says why (packets returned are still valid)
  };
  std::size_t packets = 0;  // PacketMeta written to the output span
  State state = State::kMore;
  std::string error;  // set with kError only
};

// Drop and error counters a source reports from below us (kernel, NIC). Zero where not applicable.
struct SourceStats {
  std::uint64_t received = 0;         // pcap_stats ps_recv / rte_eth_stats ipackets
  std::uint64_t kernel_drops = 0;     // pcap_stats ps_drop (buffer full)
  std::uint64_t interface_drops = 0;  // pcap_stats ps_ifdrop
  std::uint64_t nic_imissed = 0;      // rte_eth_stats imissed
  std::uint64_t nic_ierrors = 0;      // rte_eth_stats ierrors
  std::uint64_t nic_rx_nombuf = 0;    // rte_eth_stats rx_nombuf
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  // Reads at most out.size() frames and writes the accounted ones to `out`. Non-blocking or
  // briefly blocking (live sources wait at most a few milliseconds), so the caller can check a
  // stop flag between polls.
  virtual PollResult Poll(std::span<PacketMeta> out) = 0;
  // Asks a blocking read to return soon; safe from any thread or a signal handler's helper thread.
  virtual void Stop() {}
  virtual SourceStats Stats() const { return {}; }
  virtual const Decoder& decoder() const = 0;
  // A short human-readable name: "pcap:trace.pcap", "live:eth1", "dpdk:0/1", "synth:edge-mix".
  virtual std::string Name() const = 0;
};

}  // namespace weighbridge::capture
