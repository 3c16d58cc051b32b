#include "pcapng_reader.h"

#include <algorithm>
#include <string>

#include "weighbridge/core/bytes.h"

namespace weighbridge::capture::internal {

namespace {

constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr std::uint32_t kInterfaceDescription = 1;
constexpr std::uint32_t kObsoletePacket = 2;
constexpr std::uint32_t kSimplePacket = 3;
constexpr std::uint32_t kEnhancedPacket = 6;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
// Larger blocks are treated as corruption rather than read into memory.
constexpr std::uint32_t kMaxBlock = 64u << 20;

}  // namespace

std::uint16_t PcapngReader::U16(const std::uint8_t* p) const {
  return big_endian_ ? LoadBe16(p) : LoadLe16(p);
}
std::uint32_t PcapngReader::U32(const std::uint8_t* p) const {
  return big_endian_ ? LoadBe32(p) : LoadLe32(p);
}

StreamTime PcapngReader::Time(const Interface& i, std::uint64_t units) const {
  const std::uint64_t per = i.units_per_second;
  const std::int64_t secs = static_cast<std::int64_t>(units / per) + i.offset_seconds;
  const std::uint64_t rem = units % per;
  constexpr std::uint64_t kNs = kNanosPerSecond;
  std::int64_t frac = 0;
  if (per <= kNs && kNs % per == 0) {
    frac = static_cast<std::int64_t>(rem * (kNs / per));  // decimal, at most nanoseconds: exact
  } else if (per % kNs == 0) {
    frac = static_cast<std::int64_t>(rem / (per / kNs));  // finer than nanoseconds: truncated
  } else {
    frac = static_cast<std::int64_t>(static_cast<long double>(rem) * kNs / per);  // binary
  }
  return StreamTime::FromNanos(secs * kNanosPerSecond + frac);
}

bool PcapngReader::ReadInterface(std::uint32_t body_len) {
  const std::uint8_t* b = block_.data();
  if (body_len < 8) {
    error_ = "interface description block too short";
    return false;
  }
  Interface i;
  i.link_type = U16(b);
  i.snaplen = U32(b + 4);
  // Options: code (2), length (2), value padded to 4.
  std::uint32_t at = 8;
  while (at + 4 <= body_len) {
    const std::uint16_t code = U16(b + at);
    const std::uint16_t len = U16(b + at + 2);
    if (code == 0) break;  // opt_endofopt
    if (at + 4 + len > body_len) break;
    const std::uint8_t* v = b + at + 4;
    if (code == 9 && len >= 1) {  // if_tsresol: 2^-n if the top bit is set, else 10^-n
      const std::uint8_t r = v[0];
      const unsigned n = r & 0x7f;
      if ((r & 0x80) != 0 ? n > 63 : n > 18) {
        error_ = "interface timestamp resolution out of range";
        return false;
      }
      std::uint64_t per = 1;
      for (unsigned k = 0; k < n; ++k) per *= (r & 0x80) != 0 ? 2 : 10;
      i.units_per_second = per;
    } else if (code == 14 && len >= 8) {  // if_tsoffset, seconds
      i.offset_seconds = static_cast<std::int64_t>(
          (std::uint64_t{U32(big_endian_ ? v : v + 4)} << 32) | U32(big_endian_ ? v + 4 : v));
    }
    at += 4 + ((len + 3u) & ~3u);
  }
  interfaces_.push_back(i);
  return true;
}

int PcapngReader::Next(Frame* frame) {
  for (;;) {
    std::uint8_t head[8];
    const std::size_t got = std::fread(head, 1, sizeof(head), file_);
    if (got == 0) return 0;
    if (got < sizeof(head)) {
      error_ = "truncated block header";
      return -1;
    }
    std::uint32_t type = LoadLe32(head);
    if (type == kSectionHeader) {
      // The byte-order magic follows the length; read it to learn the section's byte order.
      std::uint8_t magic[4];
      if (std::fread(magic, 1, 4, file_) != 4) {
        error_ = "truncated section header";
        return -1;
      }
      if (LoadLe32(magic) == kByteOrderMagic) {
        big_endian_ = false;
      } else if (LoadBe32(magic) == kByteOrderMagic) {
        big_endian_ = true;
      } else {
        error_ = "bad byte-order magic in section header";
        return -1;
      }
      const std::uint32_t len = U32(head + 4);
      if (len < 28 || len % 4 != 0 || len > kMaxBlock) {
        error_ = "bad section header length";
        return -1;
      }
      block_.resize(len - 12);
      if (std::fread(block_.data(), 1, len - 12, file_) != len - 12) {
        error_ = "truncated section header";
        return -1;
      }
      interfaces_.clear();  // interface ids are per section
      in_section_ = true;
      continue;
    }
    if (!in_section_) {
      error_ = "not a pcapng file";
      return -1;
    }
    type = U32(head);
    const std::uint32_t len = U32(head + 4);
    if (len < 12 || len % 4 != 0 || len > kMaxBlock) {
      error_ = "bad block length " + std::to_string(len);
      return -1;
    }
    const std::uint32_t body_len = len - 12;  // without type, length and trailing length
    block_.resize(body_len + 4);
    if (std::fread(block_.data(), 1, body_len + 4, file_) != body_len + 4) {
      error_ = "truncated block";
      return -1;
    }
    const std::uint8_t* b = block_.data();
    switch (type) {
      case kInterfaceDescription:
        if (!ReadInterface(body_len)) return -1;
        continue;
      case kEnhancedPacket:
      case kObsoletePacket: {
        if (body_len < 20) {
          error_ = "packet block too short";
          return -1;
        }
        const std::uint32_t iface = type == kEnhancedPacket ? U32(b) : U16(b);
        if (iface >= interfaces_.size()) {
          error_ = "packet block names interface " + std::to_string(iface) + ", not described";
          return -1;
        }
        const std::uint64_t units = (std::uint64_t{U32(b + 4)} << 32) | U32(b + 8);
        const std::uint32_t caplen = U32(b + 12);
        if (caplen > body_len - 20) {
          error_ = "packet block's captured length exceeds the block";
          return -1;
        }
        const Interface& i = interfaces_[iface];
        frame->link_type = i.link_type;
        frame->ts = last_ts_ = Time(i, units);
        frame->caplen = caplen;
        frame->wire_len = std::max(U32(b + 16), caplen);
        frame->data = b + 20;
        return 1;
      }
      case kSimplePacket: {
        if (body_len < 4 || interfaces_.empty()) {
          error_ = "bad simple packet block";
          return -1;
        }
        const Interface& i = interfaces_[0];
        const std::uint32_t wire = U32(b);
        std::uint32_t caplen = std::min(wire, body_len - 4);
        if (i.snaplen != 0) caplen = std::min(caplen, i.snaplen);
        frame->link_type = i.link_type;
        frame->ts = last_ts_;  // simple packet blocks carry no timestamp
        frame->caplen = caplen;
        frame->wire_len = std::max(wire, caplen);
        frame->data = b + 4;
        return 1;
      }
      default:
        continue;  // name resolution, statistics, custom blocks: nothing to account
    }
  }
}

}  // namespace weighbridge::capture::internal
