// A reader for classic pcap files (the four magic numbers: micro- or nanosecond timestamps, either
// byte order) that parses records in place from large read() chunks instead of one stdio read per
// record. Same results as libpcap's reader, record for record (snaplen rules, errors on a
// truncated or impossible record), at a fraction of its cost per packet; OpenPcapFile uses it for
// regular files and leaves everything else (pcapng, pipes, exotic link types) to libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/core/units.h"

namespace weighbridge::capture::internal {

class PcapChunkReader {
 public:
  struct Frame {
    StreamTime ts;
    std::uint32_t caplen = 0;  // after the file's snaplen cut, as libpcap hands it out
    std::uint32_t wire_len = 0;
    const std::uint8_t* data = nullptr;  // valid until the next Next()
  };

  // Null when `fd` does not hold a classic pcap file this reader takes (then nothing was
  // consumed beyond a pread of the header). Takes ownership of `fd` only on success.
  static std::unique_ptr<PcapChunkReader> Open(int fd);
  ~PcapChunkReader();
  PcapChunkReader(const PcapChunkReader&) = delete;
  PcapChunkReader& operator=(const PcapChunkReader&) = delete;

  int link_type() const { return link_type_; }
  // 1: a frame; 0: end of file; -1: a truncated or corrupt record (error() says why, in
  // libpcap's words).
  int Next(Frame* frame);
  const std::string& error() const { return error_; }

 private:
  PcapChunkReader(int fd, bool swapped, bool nanos, std::uint32_t snaplen, int link_type);
  std::uint32_t U32(const std::uint8_t* p) const;
  // Makes at least `want` bytes available from pos_ (fewer only at the end of the file).
  std::size_t Fill(std::size_t want);

  int fd_;
  bool swapped_;
  bool nanos_;
  std::uint32_t snaplen_;
  int link_type_;
  std::vector<std::uint8_t> buf_;
  std::size_t pos_ = 0;  // next unread byte in buf_
  std::size_t end_ = 0;  // bytes valid in buf_
  bool eof_ = false;
  std::string error_;
};

}  // namespace weighbridge::capture::internal
