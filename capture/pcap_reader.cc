#include "pcap_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weighbridge::capture::internal {

namespace {

constexpr std::size_t kChunkBytes = 4 << 20;
constexpr std::size_t kHeaderBytes = 24;
constexpr std::size_t kRecordHeaderBytes = 16;
// libpcap's maximum captured length for the link types this reader takes (pcap-common.c
// max_snaplen_for_dlt: 262144 for all but a few, which go to libpcap itself).
constexpr std::uint32_t kMaxSnaplen = 262144;

inline std::uint32_t Load32(const std::uint8_t* p, bool swapped) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}

}  // namespace

std::unique_ptr<PcapChunkReader> PcapChunkReader::Open(int fd) {
  std::uint8_t h[kHeaderBytes];
  if (pread(fd, h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) return nullptr;
  std::uint32_t magic;
  std::memcpy(&magic, h, 4);
  bool swapped = false;
  bool nanos = false;
  switch (magic) {
    case 0xa1b2c3d4:
      break;
    case 0xd4c3b2a1:
      swapped = true;
      break;
    case 0xa1b23c4d:
      nanos = true;
      break;
    case 0x4d3cb2a1:
      nanos = swapped = true;
      break;
    default:
      return nullptr;  // pcapng or something libpcap knows better
  }
  std::uint16_t major;
  std::memcpy(&major, h + 4, 2);
  if (swapped) major = __builtin_bswap16(major);
  if (major != 2) return nullptr;  // archaic versions: libpcap's business
  std::uint32_t snaplen = Load32(h + 16, swapped);
  const std::uint32_t linktype = Load32(h + 20, swapped);
  const int lt = static_cast<int>(linktype & 0xFFFF);  // LT_LINKTYPE: the rest is FCS info
  // DBUS, USBPCAP and EBHSCR allow longer records than kMaxSnaplen: libpcap reads those.
  if (lt == 231 || lt == 249 || lt == 279) return nullptr;
  if (snaplen == 0 || snaplen > kMaxSnaplen) snaplen = kMaxSnaplen;
  std::unique_ptr<PcapChunkReader> r(new PcapChunkReader(fd, swapped, nanos, snaplen, lt));
  if (lseek(fd, static_cast<off_t>(kHeaderBytes), SEEK_SET) < 0) {
    r->fd_ = -1;  // not ours to close: the caller falls back to libpcap with it
    return nullptr;
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return r;
}

PcapChunkReader::PcapChunkReader(int fd, bool swapped, bool nanos, std::uint32_t snaplen,
                                 int link_type)
    : fd_(fd),
      swapped_(swapped),
      nanos_(nanos),
      snaplen_(snaplen),
      link_type_(link_type),
      buf_(kChunkBytes + kMaxSnaplen + kRecordHeaderBytes) {}

PcapChunkReader::~PcapChunkReader() {
  if (fd_ >= 0) close(fd_);
}

std::uint32_t PcapChunkReader::U32(const std::uint8_t* p) const {
  return Load32(p, swapped_);
}

std::size_t PcapChunkReader::Fill(std::size_t want) {
  if (end_ - pos_ >= want || eof_) return end_ - pos_;
  // Move the partial record to the front, then read whole chunks behind it.
  std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
  end_ -= pos_;
  pos_ = 0;
  while (end_ < want && !eof_) {
    const std::size_t room = std::min(kChunkBytes, buf_.size() - end_);
    const ssize_t n = read(fd_, buf_.data() + end_, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      eof_ = true;
      error_ = std::string("read error: ") + std::strerror(errno);
      break;
    }
    if (n == 0) eof_ = true;
    end_ += static_cast<std::size_t>(n);
  }
  return end_ - pos_;
}

int PcapChunkReader::Next(Frame* frame) {
  const std::size_t have = Fill(kRecordHeaderBytes);
  if (!error_.empty()) return -1;
  if (have == 0) return 0;
  if (have < kRecordHeaderBytes) {
    error_ = "truncated dump file; tried to read 16 header bytes, only got " + std::to_string(have);
    return -1;
  }
  const std::uint8_t* h = buf_.data() + pos_;
  const auto sec = static_cast<std::int32_t>(U32(h));
  const auto frac = static_cast<std::int32_t>(U32(h + 4));
  const std::uint32_t caplen = U32(h + 8);
  const std::uint32_t wire = U32(h + 12);
  if (caplen > kMaxSnaplen) {
    error_ = "invalid packet capture length " + std::to_string(caplen) +
             ", bigger than maximum of " + std::to_string(kMaxSnaplen);
    return -1;
  }
  const std::size_t got = Fill(kRecordHeaderBytes + caplen);
  if (!error_.empty()) return -1;
  if (got < kRecordHeaderBytes + caplen) {
    error_ = "truncated dump file; tried to read " + std::to_string(caplen) +
             " captured bytes, only got " + std::to_string(got - kRecordHeaderBytes);
    return -1;
  }
  frame->ts = StreamTime::FromNanos(static_cast<std::int64_t>(sec) * kNanosPerSecond +
                                    (nanos_ ? frac : static_cast<std::int64_t>(frac) * 1000));
  frame->caplen = caplen < snaplen_ ? caplen : snaplen_;
  frame->wire_len = wire;
  frame->data = buf_.data() + pos_ + kRecordHeaderBytes;
  pos_ += kRecordHeaderBytes + caplen;
  return 1;
}

}  // namespace weighbridge::capture::internal
