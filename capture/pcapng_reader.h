// A pcapng reader for what libpcap 1.10 refuses: a file whose interfaces have different link
// types (a capture on several interfaces at once, e.g. Ethernet and loopback). libpcap reads
// every other file; this one takes over from where libpcap stopped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "weighbridge/core/units.h"

namespace weighbridge::capture::internal {

class PcapngReader {
 public:
  struct Frame {
    int link_type = 0;  // LINKTYPE_* of the frame's interface
    StreamTime ts;
    std::uint32_t caplen = 0;
    std::uint32_t wire_len = 0;
    const std::uint8_t* data = nullptr;  // valid until the next Next()
  };

  explicit PcapngReader(std::FILE* file) : file_(file) {}

  // 1: a frame; 0: end of file; -1: a malformed or truncated block (error() says why).
  int Next(Frame* frame);
  const std::string& error() const { return error_; }

 private:
  struct Interface {
    int link_type = 0;
    std::uint32_t snaplen = 0;
    std::uint64_t units_per_second = 1'000'000;  // if_tsresol; microseconds by default
    std::int64_t offset_seconds = 0;             // if_tsoffset
  };
  std::uint16_t U16(const std::uint8_t* p) const;
  std::uint32_t U32(const std::uint8_t* p) const;
  bool ReadInterface(std::uint32_t body_len);
  StreamTime Time(const Interface& i, std::uint64_t units) const;

  std::FILE* file_;
  std::vector<std::uint8_t> block_;
  std::vector<Interface> interfaces_;
  bool big_endian_ = false;
  bool in_section_ = false;
  StreamTime last_ts_;
  std::string error_;
};

}  // namespace weighbridge::capture::internal
