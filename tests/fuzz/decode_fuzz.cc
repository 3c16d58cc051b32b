// libFuzzer target for capture::Decoder. The first byte picks the link type, the tunnel mode and
// how the wire length relates to the captured length; the rest is the frame. Decoders persist
// across inputs so that the fragment table sees first and later fragments from different inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "weighbridge/capture/decode.h"

namespace {

using weighbridge::StreamTime;
using weighbridge::capture::DecodeOptions;
using weighbridge::capture::Decoder;
using weighbridge::capture::DecodeResult;
using weighbridge::capture::PacketMeta;
using weighbridge::capture::TunnelMode;

// Index = low 4 bits of the selector byte (seeds in corpus/decode/ use this order).
constexpr int kLinks[16] = {1, 113, 276, 101, 228, 229, 0, 108, 9, 50, 12, 14, 253, 182, 1, 1};

Decoder& Get(TunnelMode mode) {
  static Decoder* const inner = [] {
    DecodeOptions o;
    o.fragment_table_entries = 64;  // small, so that slots are overwritten often
    return new Decoder(o, nullptr);
  }();
  static Decoder* const outer = [] {
    DecodeOptions o;
    o.tunnels = TunnelMode::kOuter;
    o.fragment_table_entries = 64;
    return new Decoder(o, nullptr);
  }();
  return mode == TunnelMode::kInner ? *inner : *outer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 1u << 20) return 0;
  const std::uint8_t sel = data[0];
  const auto caplen = static_cast<std::uint32_t>(size - 1);
  std::uint32_t wire = caplen;
  switch ((sel >> 5) & 3) {
    case 1:
      wire = caplen + 1000;
      break;  // snaplen-cut capture
    case 2:
      wire = caplen + 70000;
      break;  // GSO super-packet sizes
    case 3:
      wire = caplen / 2;
      break;  // malformed record: wire below caplen
    default:
      break;
  }
  const TunnelMode mode = (sel & 0x10) != 0 ? TunnelMode::kOuter : TunnelMode::kInner;
  PacketMeta m;
  const DecodeResult r =
      Get(mode).Decode(kLinks[sel & 0x0f], data + 1, caplen, wire, StreamTime{}, &m);
  if (r == DecodeResult::kOk) {
    // Invariants: lengths never exceed what the wire carried.
    const std::uint32_t wire_max = wire > caplen ? wire : caplen;
    if (m.l3_bytes > wire_max || m.payload_bytes > m.l3_bytes || m.wire_bytes != wire) {
      std::abort();
    }
  }
  return 0;
}
