// End-to-end live capture: a veth pair whose capture end (wbv<pid>) stays in the root namespace
// and whose peer (wbp<pid>) lives in a namespace the test creates (wb-b-<pid>). A child process
// in that namespace sends a known number of UDP datagrams of a known size to the capture end;
// the test captures them with OpenPcapLive and, when built with DPDK, with net_af_packet.
// Only the veth pair and namespace created here are touched, and both are removed on every path
// (RAII, plus a sweep of stale names left by killed runs). Needs root; skips otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "weighbridge/capture/pcap_source.h"
#if defined(WB_WITH_DPDK)
#include "weighbridge/capture/dpdk_source.h"
#endif

namespace weighbridge::capture {
namespace {

constexpr int kDatagrams = 2000;
constexpr int kPayloadBytes = 1000;
constexpr std::uint16_t kPort = 9999;
constexpr auto kDeadline = std::chrono::seconds(10);

int Sh(const std::string& cmd) {
  const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

std::vector<std::string> Lines(const std::string& cmd) {
  std::vector<std::string> out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char line[512];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    out.push_back(s);
  }
  ::pclose(p);
  return out;
}

// Removes wbv<pid> links and wb-b-<pid> namespaces whose creating process is gone.
void SweepStale() {
  for (const std::string& name : Lines("ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1")) {
    if (name.rfind("wbv", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 3, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0) Sh("ip link del " + name);
  }
  for (const std::string& line : Lines("ip netns list")) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind("wb-b-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 5, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0) Sh("ip netns del " + name);
  }
}

// The veth pair and namespace; the destructor removes both.
class VethNamespace {
 public:
  VethNamespace() {
    const std::string pid = std::to_string(::getpid());
    ns_ = "wb-b-" + pid;
    host_if_ = "wbv" + pid;
    peer_if_ = "wbp" + pid;
    const int subnet = static_cast<int>(::getpid() % 250) + 1;
    host_ip_ = "10.99." + std::to_string(subnet) + ".1";
    peer_ip_ = "10.99." + std::to_string(subnet) + ".2";
  }
  ~VethNamespace() {
    Sh("ip link del " + host_if_);  // deletes the peer too
    Sh("ip netns del " + ns_);
  }
  VethNamespace(const VethNamespace&) = delete;
  VethNamespace& operator=(const VethNamespace&) = delete;

  // Returns an empty string on success, else what failed.
  std::string Create() {
    if (Sh("ip netns add " + ns_) != 0) return "ip netns add " + ns_ + " failed";
    const std::string nsx = "ip netns exec " + ns_ + " ";
    const std::vector<std::string> steps = {
        "ip link add " + host_if_ + " type veth peer name " + peer_if_,
        "ip link set " + peer_if_ + " netns " + ns_,
        // No IPv6 on the pair: no router/neighbour solicitations in the capture.
        "sysctl -qw net.ipv6.conf." + host_if_ + ".disable_ipv6=1",
        nsx + "sysctl -qw net.ipv6.conf." + peer_if_ + ".disable_ipv6=1",
        "ip addr add " + host_ip_ + "/24 dev " + host_if_,
        nsx + "ip addr add " + peer_ip_ + "/24 dev " + peer_if_,
        // Offloads off on both ends: the capture sees wire-sized packets, one per datagram.
        "ethtool -K " + host_if_ + " gro off gso off tso off",
        nsx + "ethtool -K " + peer_if_ + " gro off gso off tso off",
        "ip link set " + host_if_ + " up",
        nsx + "ip link set " + peer_if_ + " up",
        nsx + "ip link set lo up",
    };
    for (const std::string& s : steps) {
      if (Sh(s) != 0) return "failed: " + s;
    }
    // A permanent neighbour entry in the namespace: no ARP exchange during the test.
    const std::vector<std::string> mac = Lines("cat /sys/class/net/" + host_if_ + "/address");
    if (mac.empty()) return "cannot read the MAC address of " + host_if_;
    const std::string neigh = nsx + "ip neigh replace " + host_ip_ + " lladdr " + mac[0] + " dev " +
                              peer_if_ + " nud permanent";
    if (Sh(neigh) != 0) return "failed: " + neigh;
    return "";
  }

  // Sends the datagrams from inside the namespace; blocks until the sender exits.
  int Send() const {
    const std::string py =
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "b = bytes(" +
        std::to_string(kPayloadBytes) +
        ")\n"
        "for i in range(" +
        std::to_string(kDatagrams) +
        "):\n"
        "    s.sendto(b, ('" +
        host_ip_ + "', " + std::to_string(kPort) + "))\n";
    return Sh("timeout 20 ip netns exec " + ns_ + " /usr/bin/python3 -c \"" + py + "\"");
  }

  const std::string& host_if() const { return host_if_; }
  const std::string& peer_ip() const { return peer_ip_; }

 private:
  std::string ns_, host_if_, peer_if_, host_ip_, peer_ip_;
};

struct Tally {
  std::uint64_t packets = 0;
  std::uint64_t l3_bytes = 0;
};

// Polls until kDatagrams matching packets arrived, or the sender finished and the source has
// been idle for a second, or the deadline passed.
Tally Capture(PacketSource& src, const VethNamespace& net, bool* sender_ok) {
  const IpAddress peer = *IpAddress::Parse(net.peer_ip());
  Tally t;
  std::atomic<bool> sent{false};
  int send_rc = -1;
  std::thread sender([&] {
    send_rc = net.Send();
    sent.store(true);
  });
  std::vector<PacketMeta> buf(256);
  const auto start = std::chrono::steady_clock::now();
  auto last_packet = start;
  while (std::chrono::steady_clock::now() - start < kDeadline) {
    const PollResult r = src.Poll(buf);
    if (r.state == PollResult::State::kError || r.state == PollResult::State::kEnd) break;
    for (std::size_t i = 0; i < r.packets; ++i) {
      const PacketMeta& m = buf[i];
      if (m.proto == 17 && m.dst_port == kPort && m.src == peer) {
        ++t.packets;
        t.l3_bytes += m.l3_bytes;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (r.packets > 0) last_packet = now;
    if (t.packets >= static_cast<std::uint64_t>(kDatagrams)) break;
    if (sent.load() && now - last_packet > std::chrono::seconds(1)) break;
  }
  sender.join();
  *sender_ok = send_rc == 0;
  return t;
}

class LiveCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create network namespaces and veths";
    SweepStale();
    const std::string why = net_.Create();
    if (!why.empty()) GTEST_SKIP() << "cannot build the veth/namespace test bed: " << why;
  }
  VethNamespace net_;
};

constexpr std::uint64_t kWantL3 = static_cast<std::uint64_t>(kDatagrams) * (kPayloadBytes + 28);

TEST_F(LiveCaptureTest, PcapCountsEveryDatagram) {
  LiveCaptureOptions opt;
  opt.interface = net_.host_if();
  opt.filter = "udp and dst port " + std::to_string(kPort);
  opt.buffer_bytes = 64ull << 20;
  auto src = OpenPcapLive(opt, DecodeOptions{}, nullptr);
  ASSERT_TRUE(src.ok()) << src.error();
  bool sender_ok = false;
  const Tally t = Capture(**src, net_, &sender_ok);
  ASSERT_TRUE(sender_ok) << "the sender in the namespace failed";
  const SourceStats st = (*src)->Stats();
  // UDP has no retransmissions and offloads are off: exactly one captured packet per datagram,
  // unless the kernel says it dropped some, in which case the difference is exactly the drops.
  EXPECT_EQ(t.packets + st.kernel_drops, static_cast<std::uint64_t>(kDatagrams))
      << "captured " << t.packets << ", kernel drops " << st.kernel_drops;
  EXPECT_EQ(st.kernel_drops, 0u) << "64 MiB buffer should not drop 2000 datagrams";
  EXPECT_EQ(t.l3_bytes, t.packets * (kPayloadBytes + 28));
  EXPECT_EQ(t.l3_bytes, kWantL3);
  EXPECT_GE(st.received, t.packets);
}

#if defined(WB_WITH_DPDK)
TEST_F(LiveCaptureTest, DpdkAfPacketCountsEveryDatagram) {
  const Status eal = InitDpdkEal(
      {"-l", "0", "--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--log-level=error"});
  if (!eal.ok()) GTEST_SKIP() << eal.message();
  // A deep ring: the sender and this loop share two cores.
  auto port = CreateDpdkVdev("net_af_packet_wb" + std::to_string(::getpid()),
                             "iface=" + net_.host_if() + ",framecnt=16384");
  ASSERT_TRUE(port.ok()) << port.error();
  DpdkOptions opt;
  opt.ports = {*port};
  auto rt = DpdkRuntime::Start(opt, DecodeOptions{}, nullptr);
  ASSERT_TRUE(rt.ok()) << rt.error();
  auto sources = (*rt)->TakeSources();
  ASSERT_EQ(sources.size(), 1u);
  bool sender_ok = false;
  const Tally t = Capture(*sources[0], net_, &sender_ok);
  ASSERT_TRUE(sender_ok) << "the sender in the namespace failed";
  const SourceStats st = sources[0]->Stats();
  EXPECT_EQ(t.packets + st.nic_imissed, static_cast<std::uint64_t>(kDatagrams))
      << "captured " << t.packets << ", imissed " << st.nic_imissed;
  EXPECT_EQ(t.l3_bytes, t.packets * (kPayloadBytes + 28));
  EXPECT_GT(t.packets, 0u);
  sources.clear();
  rt->reset();
  ShutdownDpdkEal();
}
#endif

}  // namespace
}  // namespace weighbridge::capture
