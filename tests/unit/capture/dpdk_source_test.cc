// Tests for the DPDK source. One EAL per process: every DPDK test lives in this executable and
// shares the EAL started by the environment below; devices are hot-plugged per test.
// Needs root (the EAL maps memory and opens /dev files); skips, saying why, otherwise.
#include "weighbridge/capture/dpdk_source.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "weighbridge/capture/pcap_source.h"

namespace weighbridge::capture {
namespace {

std::string g_skip_reason;  // empty when the EAL is up

class DpdkEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (::geteuid() != 0) {
      g_skip_reason = "needs root to start the DPDK EAL";
      return;
    }
    const Status st = InitDpdkEal(
        {"-l", "0", "--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--log-level=error"});
    if (!st.ok()) g_skip_reason = "DPDK EAL did not start: " + st.message();
  }
  void TearDown() override { ShutdownDpdkEal(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new DpdkEnvironment);

#define WB_NEED_EAL()                                          \
  do {                                                         \
    if (!g_skip_reason.empty()) GTEST_SKIP() << g_skip_reason; \
  } while (false)

void PutBe16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
  v[at] = static_cast<std::uint8_t>(x >> 8);
  v[at + 1] = static_cast<std::uint8_t>(x);
}

// Ethernet + IPv4 + UDP or TCP (by i), payload of known size, addresses varying with i.
std::vector<std::uint8_t> Frame(int i) {
  const bool tcp = i % 3 == 0;
  const std::size_t l4 = tcp ? 20 : 8;
  const std::size_t payload = static_cast<std::size_t>(17 * i % 1400);
  std::vector<std::uint8_t> f(14 + 20 + l4 + payload, 0);
  f[0] = 0x02;
  f[6] = 0x02;
  f[11] = 1;
  PutBe16(f, 12, 0x0800);
  f[14] = 0x45;
  PutBe16(f, 16, static_cast<std::uint16_t>(20 + l4 + payload));
  f[22] = 64;
  f[23] = tcp ? 6 : 17;
  const std::array<std::uint8_t, 4> src = {10, 0, static_cast<std::uint8_t>(i / 256),
                                           static_cast<std::uint8_t>(i % 256)};
  const std::array<std::uint8_t, 4> dst = {203, 0, 113, static_cast<std::uint8_t>(i % 7)};
  std::memcpy(&f[26], src.data(), 4);
  std::memcpy(&f[30], dst.data(), 4);
  PutBe16(f, 34, static_cast<std::uint16_t>(1024 + i));
  PutBe16(f, 36, tcp ? 443 : 53);
  if (tcp) {
    f[46] = 0x50;  // data offset 5
    f[47] = 0x18;  // PSH ACK
  } else {
    PutBe16(f, 38, static_cast<std::uint16_t>(8 + payload));
  }
  return f;
}

// Files this test process wrote, removed when it exits.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};

// Microsecond timestamps: net_pcap reports the record time in microseconds.
std::string WriteTestPcap(const std::string& name, int frames, int link = DLT_EN10MB) {
  static TempFiles files;
  const std::string path = (std::filesystem::path(::testing::TempDir()) /
                            ("wb_dpdk_" + std::to_string(::getpid()) + "_" + name))
                               .string();
  files.paths.push_back(path);
  pcap_t* dead = pcap_open_dead(link, 65535);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  for (int i = 0; i < frames; ++i) {
    const std::vector<std::uint8_t> f = Frame(i);
    pcap_pkthdr h{};
    h.ts.tv_sec = 1'700'000'000 + i / 10;
    h.ts.tv_usec = (i * 99'991) % 1'000'000;
    h.caplen = static_cast<bpf_u_int32>(f.size());
    h.len = h.caplen;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());  // libpcap's documented idiom
  }
  pcap_dump_close(d);
  pcap_close(dead);
  return path;
}

std::vector<PacketMeta> Drain(PacketSource& src, PollResult* last) {
  std::vector<PacketMeta> all;
  std::vector<PacketMeta> buf(100);
  for (int i = 0; i < 1'000'000; ++i) {  // bounded; the end heuristic stops far earlier
    *last = src.Poll(buf);
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<long>(last->packets));
    if (last->state == PollResult::State::kEnd || last->state == PollResult::State::kError) break;
  }
  return all;
}

TEST(DpdkReplay, SameMetaAsPcapFile) {
  WB_NEED_EAL();
  constexpr int kFrames = 3000;
  const std::string path = WriteTestPcap("same.pcap", kFrames);
  auto viapcap = OpenPcapFile(path, DecodeOptions{}, nullptr);
  ASSERT_TRUE(viapcap.ok()) << viapcap.error();
  PollResult last;
  const std::vector<PacketMeta> want = Drain(**viapcap, &last);
  ASSERT_EQ(last.state, PollResult::State::kEnd);
  ASSERT_EQ(want.size(), static_cast<std::size_t>(kFrames));

  // Twice: the second replay hot-plugs another net_pcap device into the running EAL.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    auto viadpdk = OpenDpdkPcapReplay(path, DecodeOptions{}, nullptr);
    ASSERT_TRUE(viadpdk.ok()) << viadpdk.error();
    const std::vector<PacketMeta> got = Drain(**viadpdk, &last);
    EXPECT_EQ(last.state, PollResult::State::kEnd);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ((*viadpdk)->Stats().received, static_cast<std::uint64_t>(kFrames));
    for (std::size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(got[i].ts.ns, want[i].ts.ns);
      EXPECT_EQ(got[i].src, want[i].src);
      EXPECT_EQ(got[i].dst, want[i].dst);
      EXPECT_EQ(got[i].src_port, want[i].src_port);
      EXPECT_EQ(got[i].dst_port, want[i].dst_port);
      EXPECT_EQ(got[i].proto, want[i].proto);
      EXPECT_EQ(got[i].l3_bytes, want[i].l3_bytes);
      EXPECT_EQ(got[i].wire_bytes, want[i].wire_bytes);
      EXPECT_EQ(got[i].tcp_flags, want[i].tcp_flags);
      if (HasFailure()) break;
    }
  }
  // Independent of both readers: the generator's own arithmetic for a few frames.
  EXPECT_EQ(want[5].l3_bytes, 20u + 8u + 85u);
  EXPECT_EQ(want[6].l3_bytes, 20u + 20u + 102u);
  EXPECT_EQ(want[0].ts.ns, 1'700'000'000LL * 1'000'000'000);
  EXPECT_EQ(want[1].ts.ns, 1'700'000'000LL * 1'000'000'000 + 99'991'000);
}

TEST(DpdkReplay, RejectsNonEthernetAndMissingFiles) {
  // Both checks happen before DPDK is touched, so they need no EAL.
  const std::string raw = WriteTestPcap("raw.pcap", 3, DLT_RAW);
  auto r = OpenDpdkPcapReplay(raw, DecodeOptions{}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("Ethernet"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(raw), std::string::npos) << r.error();
  auto m = OpenDpdkPcapReplay("/nonexistent-wb/x.pcap", DecodeOptions{}, nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("/nonexistent-wb/x.pcap"), std::string::npos) << m.error();
}

TEST(DpdkReplayEalArgs, DocumentedArguments) {
  const std::vector<std::string> want = {"-l",
                                         "0",
                                         "--no-huge",
                                         "--no-pci",
                                         "-m",
                                         "256",
                                         "--no-shconf",
                                         "--log-level=error",
                                         "--vdev=net_pcap0,rx_pcap=/tmp/f.pcap"};
  EXPECT_EQ(DpdkReplayEalArgs("/tmp/f.pcap"), want);
}

TEST(DpdkRuntime, NetNullTwoQueuesReceive) {
  WB_NEED_EAL();
  auto port = CreateDpdkVdev("net_null_wbtest", "");
  ASSERT_TRUE(port.ok()) << port.error();
  DpdkOptions opt;
  opt.ports = {*port};
  opt.queues = 2;
  opt.mbufs = 2047;
  auto rt = DpdkRuntime::Start(opt, DecodeOptions{}, nullptr);
  ASSERT_TRUE(rt.ok()) << rt.error();
  auto sources = (*rt)->TakeSources();
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0]->Name(), "dpdk:" + std::to_string(*port) + "/0");
  EXPECT_EQ(sources[1]->Name(), "dpdk:" + std::to_string(*port) + "/1");
  EXPECT_TRUE((*rt)->TakeSources().empty());
  // net_null gives no capture timestamps: the fallback to the wall clock is stated. (It does
  // accept an RSS configuration, so two queues get the symmetric key and no "RSS skipped" note.)
  bool clock_note = false;
  for (const std::string& n : (*rt)->notes()) {
    clock_note |= n.find("wall clock") != std::string::npos;
    EXPECT_EQ(n.find("RSS skipped"), std::string::npos) << n;
  }
  EXPECT_TRUE(clock_note);
  // net_null hands out zero-filled frames: every one is received (and counted as a non-IP or
  // truncated frame by the decoder); none becomes a PacketMeta.
  std::vector<PacketMeta> buf(64);
  std::uint64_t frames = 0;
  for (int i = 0; i < 100 && frames < 1000; ++i) {
    const PollResult r = sources[0]->Poll(buf);
    EXPECT_EQ(r.state, PollResult::State::kMore);
    frames = sources[0]->decoder().counters().frames.Get();
  }
  EXPECT_GE(frames, 1000u);
  sources[0]->Stop();
  EXPECT_EQ(sources[0]->Poll(buf).state, PollResult::State::kEnd);
}

}  // namespace
}  // namespace weighbridge::capture
