// The synthetic traffic generator: deterministic data-centre edge traffic (web, DNS, ICMP,
// parallel bulk TCP transfers, scans, VXLAN tunnels) as Ethernet frames, together with the
// generator's own ground truth per flow. It feeds `weighbridge synth`, `weighbridge demo`, the
// benchmarks and the tests. The truth comes from the generator's own arithmetic, never from the
// decoder, so it can be used to check the decoder and everything after it.
// docs/synth.md lists the scenarios and what their truth contains.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/capture/decode.h"
#include "weighbridge/capture/source.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/result.h"
#include "weighbridge/core/units.h"

namespace weighbridge::capture {

struct SynthOptions {
  std::string scenario = "edge-mix";
  std::uint64_t seed = 1;
  // 0: full frames with a zero-filled payload; otherwise header-only frames cut to `snaplen`
  // bytes (the wire length stays the full length).
  std::uint32_t snaplen = 0;
  // Multiplies bulk transfer sizes and background flow counts where the scenario allows.
  double scale = 1.0;
  // Stream time of the scenario's start: 2026-01-01T00:00:00Z.
  StreamTime start = StreamTime::FromNanos(1'767'225'600LL * kNanosPerSecond);
};

struct SynthScenarioInfo {
  std::string name;
  std::string description;
};
std::vector<SynthScenarioInfo> SynthScenarios();

// One bidirectional flow of the generator's truth, in the shape of a --flows-out line
// (ARCHITECTURE.md "Flows out"). a is the side that sent the first packet.
struct SynthTruthFlow {
  std::uint8_t proto = 0;
  IpAddress a;
  std::uint16_t a_port = 0;  // 0 for protocols without ports (ICMP)
  IpAddress b;
  std::uint16_t b_port = 0;
  std::uint16_t vlan = 0;          // 802.1Q id, 0 untagged
  std::uint64_t a_to_b_bytes = 0;  // L3 bytes
  std::uint64_t b_to_a_bytes = 0;
  std::uint64_t a_to_b_packets = 0;
  std::uint64_t b_to_a_packets = 0;
  std::uint64_t a_to_b_payload_bytes =
      0;  // unique TCP payload (retransmissions once) or UDP payload
  std::uint64_t b_to_a_payload_bytes = 0;
  StreamTime first;  // whole microseconds: every generated timestamp is
  StreamTime last;
};

// Renders one truth flow as a --flows-out JSON line (no trailing newline).
std::string SynthTruthJson(const SynthTruthFlow& f);

namespace internal {
class SynthImpl;
}

// Frame-level generator: produces Ethernet frames (LINKTYPE_ETHERNET) in non-decreasing time
// order, lazily, so memory stays bounded by the number of concurrently active flows. Not
// thread-safe; one thread drives it.
class SynthGenerator {
 public:
  explicit SynthGenerator(const SynthOptions& options);
  ~SynthGenerator();
  SynthGenerator(const SynthGenerator&) = delete;
  SynthGenerator& operator=(const SynthGenerator&) = delete;

  // False for an unknown scenario or a bad option; error() then says why (and lists the valid
  // scenario names).
  bool ok() const;
  const std::string& error() const;

  // Fills in the next frame; returns false at the end. *data stays valid until the next call.
  // Timestamps are whole microseconds.
  bool Next(StreamTime* ts, const std::uint8_t** data, std::uint32_t* caplen,
            std::uint32_t* wire_len) noexcept;

  // The truth, one entry per flow that sent at least one packet, ordered by first packet.
  // Complete once Next() has returned false.
  const std::vector<SynthTruthFlow>& truth() const;
  // The number of frames the scenario will produce when known up front (scenarios with a
  // packet cap, such as bench-10m); 0 when not known in advance.
  std::uint64_t frames_total() const;
  // Frames produced so far.
  std::uint64_t frames_done() const;

 private:
  std::unique_ptr<internal::SynthImpl> impl_;
};

// Writes the scenario as a pcap file (microsecond timestamps, LINKTYPE_ETHERNET) and, unless
// truth_path is empty, its truth as JSON lines with exactly the --flows-out keys.
Status WriteSynthCapture(const SynthOptions& options, const std::string& pcap_path,
                         const std::string& truth_path);

// An in-memory source for `weighbridge demo` and `capture: - {type: synth}`: generated frames
// go through a Decoder into PacketMeta, exactly as frames read from a file would.
Result<std::unique_ptr<PacketSource>> OpenSynth(const SynthOptions& options,
                                                const DecodeOptions& decode,
                                                const SiteClassifier* site);

}  // namespace weighbridge::capture
