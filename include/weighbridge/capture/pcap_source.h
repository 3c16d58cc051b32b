// libpcap sources: offline (pcap and pcapng files, "-" for standard input) and live interfaces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "weighbridge/capture/source.h"
#include "weighbridge/core/result.h"

namespace weighbridge::capture {

// Opens a capture file ("-": standard input) for reading. Fails with a message naming the file
// and libpcap's error when it cannot be opened.
Result<std::unique_ptr<PacketSource>> OpenPcapFile(const std::string& path,
                                                   const DecodeOptions& decode,
                                                   const SiteClassifier* site);

// Filled in by app/ from a `capture: - {type: pcap, ...}` entry.
struct LiveCaptureOptions {
  std::string interface;
  std::uint32_t snaplen = 128;               // bytes kept per frame; headers are all we need
  std::uint64_t buffer_bytes = 64ull << 20;  // kernel ring; 2 MB drops at ~7 Gbit/s on a veth
  std::string filter;                        // BPF expression, empty for all
  bool promiscuous = true;
  int timeout_ms = 10;  // longest a Poll waits for packets
  friend bool operator==(const LiveCaptureOptions&, const LiveCaptureOptions&) = default;
};

Result<std::unique_ptr<PacketSource>> OpenPcapLive(const LiveCaptureOptions& options,
                                                   const DecodeOptions& decode,
                                                   const SiteClassifier* site);

}  // namespace weighbridge::capture
