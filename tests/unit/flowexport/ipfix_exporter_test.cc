// IPFIX export tests against Debian's nfcapd/nfdump: flow updates built here are exported over
// loopback to a real nfcapd, and nfdump's reading of the file it wrote must show the same flows,
// bytes, packets and times (the test's own constants). The message layout is also checked
// against RFC 7011's header and set rules with a few lines of independent arithmetic.
#include "weighbridge/flowexport/ipfix_exporter.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

extern char** environ;

namespace weighbridge::flowexport {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z

analytics::FlowUpdate Update(const char* a, const char* b, std::uint16_t ap, std::uint16_t bp,
                             std::uint8_t proto, std::uint64_t ab_bytes, std::uint64_t ab_pkts,
                             std::uint64_t ba_bytes, std::uint64_t ba_pkts, std::int64_t first_ms,
                             std::int64_t last_ms) {
  analytics::FlowUpdate u;
  u.key.a = *IpAddress::Parse(a);
  u.key.b = *IpAddress::Parse(b);
  u.key.a_port = ap;
  u.key.b_port = bp;
  u.key.proto = proto;
  u.a_to_b = {ab_pkts, ab_bytes, 0};
  u.b_to_a = {ba_pkts, ba_bytes, 0};
  u.first = StreamTime::FromNanos(kT0 + first_ms * 1'000'000);
  u.last = StreamTime::FromNanos(kT0 + last_ms * 1'000'000);
  u.at = u.last;
  u.tcp_flags = proto == 6 ? 0x1b : 0;
  return u;
}

std::vector<analytics::FlowUpdate> Updates() {
  std::vector<analytics::FlowUpdate> v;
  // A 141 GB model upload: 8-byte counters are needed.
  v.push_back(Update("10.30.1.10", "203.0.113.50", 40000, 443, 6, 141'000'000'000ull, 97'000'000,
                     2'000'000'000, 30'000'000, 1000, 3'600'000));
  v.push_back(Update("2001:db8:100::7", "2001:db8:f00::77", 40001, 443, 6, 5'000'000, 3500, 0, 0,
                     2000, 9000));
  v.push_back(Update("10.40.0.11", "192.0.2.53", 53001, 53, 17, 68, 1, 148, 1, 3000, 3004));
  // Enough web flows to need several messages.
  for (int i = 0; i < 120; ++i) {
    const std::string a = "10.50.0." + std::to_string(i + 1);
    v.push_back(Update(a.c_str(), "198.51.100.20", static_cast<std::uint16_t>(50000 + i), 443, 6,
                       1000u + static_cast<std::uint64_t>(i), 10, 20'000u + 7u * i, 15, 5000 + i,
                       6000 + 2 * i));
  }
  return v;
}

TEST(IpfixEncoder, MessagesFollowRfc7011Layout) {
  IpfixEncoder enc(42, 1400, 4);
  for (const auto& u : Updates()) enc.Add(u);
  enc.Finish();
  const auto msgs = enc.TakeMessages();
  ASSERT_GT(msgs.size(), 4u);
  std::uint32_t expected_seq = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    ASSERT_GE(m.size(), 16u);
    EXPECT_LE(m.size(), 1400u);
    EXPECT_EQ((m[0] << 8) | m[1], 10);
    EXPECT_EQ(static_cast<std::size_t>((m[2] << 8) | m[3]), m.size());
    const std::uint32_t seq = (std::uint32_t{m[8]} << 24) | (m[9] << 16) | (m[10] << 8) | m[11];
    EXPECT_EQ(seq, expected_seq) << "message " << i;
    EXPECT_EQ(m[15], 42);
    // Walk the sets: they tile the message exactly; templates come every 4th message.
    std::size_t off = 16;
    bool has_template = false;
    while (off < m.size()) {
      ASSERT_LE(off + 4, m.size());
      const unsigned id = (m[off] << 8) | m[off + 1];
      const unsigned len = (m[off + 2] << 8) | m[off + 3];
      ASSERT_GE(len, 4u);
      ASSERT_LE(off + len, m.size());
      if (id == 2) has_template = true;
      if (id == 256) expected_seq += (len - 4) / 48;
      if (id == 257) expected_seq += (len - 4) / 72;
      off += len;
    }
    EXPECT_EQ(has_template, i % 4 == 0) << "message " << i;
  }
  // 3 + 120 updates, each with two directions except the v6 upload.
  EXPECT_EQ(expected_seq, 2u * 123 - 1);
  EXPECT_EQ(enc.records(), expected_seq);
}

// Runs argv, returns its stdout (bounded by `timeout_s` via coreutils timeout).
std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(IpfixExporter, NfdumpReadsTheSameFlows) {
  if (::access("/usr/bin/nfcapd", X_OK) != 0 || ::access("/usr/bin/nfdump", X_OK) != 0) {
    GTEST_SKIP() << "nfcapd/nfdump not installed (Debian package nfdump)";
  }
  const fs::path dir = fs::temp_directory_path() / ("wb-ipfix-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::uint16_t port = static_cast<std::uint16_t>(39500 + ::getpid() % 400);
  const std::string port_s = std::to_string(port);
  const std::string dir_s = dir.string();
  std::vector<std::string> args = {"/usr/bin/nfcapd", "-w", dir_s,    "-p", port_s, "-b",
                                   "127.0.0.1",       "-B", "4194304"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // nfcapd creates its current file once its socket is bound.
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().filename().string().rfind("nfcapd.current", 0) == 0) ready = true;
    }
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string csv;
  {
    IpfixExportOptions o;
    o.collector = IpAddress::V4(0x7F000001);
    o.port = port;
    auto ex = IpfixExporter::Open(o);
    ASSERT_TRUE(ex.ok()) << ex.error();
    for (const auto& u : Updates()) {
      (*ex)->OnFlowUpdate(u);
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // no burst into the socket
    }
    EXPECT_TRUE((*ex)->Flush().ok());
    EXPECT_EQ((*ex)->send_errors(), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(pid, SIGTERM);  // nfcapd flushes and closes its file on TERM
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (::waitpid(pid, &status, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    csv = Capture("TZ=UTC timeout 30 /usr/bin/nfdump -q -R " + dir_s + " -o csv -6 2>&1");
  }
  fs::remove_all(dir);
  ASSERT_TRUE(ready) << "nfcapd did not start";
  // nfdump 1.7 csv columns: ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,...
  std::map<std::tuple<std::string, std::string, int, int, int>,
           std::pair<std::uint64_t, std::uint64_t>>
      got;
  std::map<std::tuple<std::string, std::string, int, int, int>, std::string> first_seen;
  std::istringstream lines(csv);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (f.size() < 13 || f[0] == "ts") continue;
    const auto key = std::make_tuple(f[3], f[4], std::stoi(f[5]), std::stoi(f[6]),
                                     f[7] == "TCP"   ? 6
                                     : f[7] == "UDP" ? 17
                                                     : std::stoi(f[7]));
    got[key].first += std::stoull(f[11]);
    got[key].second += std::stoull(f[12]);
    first_seen[key] = f[0];
    ++rows;
  }
  EXPECT_EQ(rows, 2 * 123 - 1) << csv.substr(0, 2000);
  for (const auto& u : Updates()) {
    const auto ka = std::make_tuple(u.key.a.ToString(), u.key.b.ToString(), int{u.key.a_port},
                                    int{u.key.b_port}, int{u.key.proto});
    EXPECT_EQ(got[ka].first, u.a_to_b.packets) << u.key.a.ToString();
    EXPECT_EQ(got[ka].second, u.a_to_b.l3_bytes) << u.key.a.ToString();
    if (u.b_to_a.packets != 0) {
      const auto kb = std::make_tuple(u.key.b.ToString(), u.key.a.ToString(), int{u.key.b_port},
                                      int{u.key.a_port}, int{u.key.proto});
      EXPECT_EQ(got[kb].first, u.b_to_a.packets);
      EXPECT_EQ(got[kb].second, u.b_to_a.l3_bytes);
    }
  }
  // Times: the upload started at 00:00:01.000 UTC (nfdump prints local time: run with TZ=UTC).
  const auto upload =
      std::make_tuple(std::string("10.30.1.10"), std::string("203.0.113.50"), 40000, 443, 6);
  EXPECT_NE(first_seen[upload].find("2026-01-01 00:00:01"), std::string::npos)
      << first_seen[upload];
}

}  // namespace
}  // namespace weighbridge::flowexport
