// Shared helpers for the store tests: a temporary directory removed on destruction and record
// builders.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/transfer.h"

namespace weighbridge::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "wb-store-test-XXXXXX").string();
    if (mkdtemp(t.data()) != nullptr) path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline analytics::FlowUpdate MakeFlow(std::uint64_t id, std::int64_t at_ns) {
  analytics::FlowUpdate u;
  u.key.a = IpAddress::V4(0x0a000001 + static_cast<std::uint32_t>(id % 1000));
  u.key.b = IpAddress::V4(0xc6336401);  // 198.51.100.1
  u.key.a_port = 40000;
  u.key.b_port = 443;
  u.key.proto = 6;
  u.flow_id = id;
  u.first = StreamTime{at_ns - 1000};
  u.last = StreamTime{at_ns};
  u.at = StreamTime{at_ns};
  u.a_to_b = {10, 1500 * 10, 1460 * 10};
  u.b_to_a = {5, 52 * 5, 0};
  u.direction = capture::Direction::kOutbound;
  u.reason = analytics::FlowEndReason::kIdle;
  return u;
}

inline analytics::Alert MakeAlert(std::uint64_t id, std::uint32_t version, std::int64_t first_ns,
                                  std::int64_t last_ns) {
  analytics::Alert a;
  a.id = id;
  a.version = version;
  a.first_seen = StreamTime{first_ns};
  a.last_seen = StreamTime{last_ns};
  a.inside = *Prefix::Parse("10.0.0.1");
  a.has_inside = true;
  a.external = *Prefix::Parse("198.51.100.0/24");
  a.bytes = id * 1000;
  a.payload_bytes = id * 900;
  a.flows = 3;
  return a;
}

inline analytics::Transfer MakeTransfer(std::uint64_t id, std::int64_t first_ns,
                                        std::int64_t last_ns) {
  analytics::Transfer t;
  t.id = id;
  t.version = 1;
  t.inside = IpAddress::V4(0x0a000001);
  t.external = *Prefix::Parse("198.51.100.0/24");
  t.first = StreamTime{first_ns};
  t.last = StreamTime{last_ns};
  t.sent = {100, 150000, 146000};
  t.received = {50, 2600, 0};
  t.flows = 2;
  return t;
}

}  // namespace weighbridge::store::testing
