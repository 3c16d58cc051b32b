// DPDK capture: EAL start-up, port and queue set-up, one run-to-completion source per RX queue.
#include "weighbridge/capture/dpdk_source.h"

#include <pcap/pcap.h>
#include <pthread.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace weighbridge::capture {

namespace internal {

struct DpdkPort {
  std::uint16_t port = 0;
  rte_mempool* pool = nullptr;
  bool configured = false;
  bool started = false;
  bool hw_timestamps = false;  // the timestamp dynfield holds the capture time (net_pcap only)
  std::string vdev_name;       // set for vdevs we created: removed again on shutdown
};

// Shared by the runtime and its sources; the last owner to go stops and closes the ports.
struct DpdkShared {
  std::vector<DpdkPort> ports;
  std::uint16_t queues = 1;
  std::uint32_t end_after_empty_polls = 0;
  DecodeOptions decode;
  const SiteClassifier* site = nullptr;
  int ts_offset = -1;  // byte offset of the RX timestamp dynfield in an mbuf
  std::uint64_t ts_flag = 0;
  std::vector<std::string> notes;

  ~DpdkShared() {
    for (DpdkPort& p : ports) {
      // Errors while tearing down have no one left to report to; the port is gone either way.
      if (p.started) (void)rte_eth_dev_stop(p.port);
      if (p.configured) (void)rte_eth_dev_close(p.port);
      if (!p.vdev_name.empty()) (void)rte_eal_hotplug_remove("vdev", p.vdev_name.c_str());
      if (p.pool != nullptr) rte_mempool_free(p.pool);
    }
  }
};

}  // namespace internal

namespace {

using internal::DpdkShared;

// The EAL can be initialised once per process and never again after rte_eal_cleanup.
enum class EalState { kNone, kUp, kFailed, kCleanedUp };
std::mutex g_eal_mu;
EalState g_eal_state = EalState::kNone;
std::string g_eal_error;
std::atomic<unsigned> g_vdev_seq{0};
std::atomic<unsigned> g_pool_seq{0};

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Returns true when this call initialised the EAL, false when it was already up.
Result<bool> InitEal(const std::vector<std::string>& args) {
  std::lock_guard<std::mutex> lock(g_eal_mu);
  switch (g_eal_state) {
    case EalState::kUp:
      return false;
    case EalState::kFailed:
      return Status::Error(g_eal_error);
    case EalState::kCleanedUp:
      return Status::Error("DPDK: the EAL was shut down and cannot start again in this process");
    case EalState::kNone:
      break;
  }
  // rte_eal_init may permute argv, so it gets its own mutable copies.
  std::vector<std::string> storage;
  storage.emplace_back("weighbridge");
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  // rte_eal_init pins the calling thread to the main lcore, and every thread started from it
  // afterwards (capture loops, shard workers, the merger) would inherit that one core. Our
  // threads are not EAL lcores and poll their queues themselves, so the caller's own CPU mask
  // is put back once the EAL is up (found by the daemon e2e test: all threads on CPU 0).
  cpu_set_t before;
  CPU_ZERO(&before);
  const bool have_mask = pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0;
  if (rte_eal_init(static_cast<int>(storage.size()), argv.data()) < 0) {
    g_eal_state = EalState::kFailed;
    g_eal_error = "DPDK EAL init failed (" + std::string(rte_strerror(rte_errno)) +
                  ") with arguments: " + Join(args) +
                  " (needs root; without hugepages add --no-huge -m 256)";
    return Status::Error(g_eal_error);
  }
  g_eal_state = EalState::kUp;
  if (have_mask) pthread_setaffinity_np(pthread_self(), sizeof before, &before);
  return true;
}

// The symmetric Toeplitz key (0x6d5a repeated): both directions of a flow hash alike, so one
// queue, and one shard, sees the whole conversation.
constexpr std::uint8_t kSymmetricRssKey[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

std::string PortError(std::uint16_t port, const std::string& what, int rc) {
  return "dpdk port " + std::to_string(port) + ": " + what + ": " + rte_strerror(rc < 0 ? -rc : rc);
}

Status SetUpPort(DpdkShared& sh, internal::DpdkPort& p, std::uint32_t ring_size,
                 std::uint32_t mbufs) {
  const std::uint16_t port = p.port;
  if (rte_eth_dev_is_valid_port(port) == 0) {
    return Status::Error("dpdk port " + std::to_string(port) + ": no such port (" +
                         std::to_string(rte_eth_dev_count_avail()) +
                         " available; check the EAL -a/--vdev arguments)");
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) {
    return Status::Error(PortError(port, "cannot read device info", rc));
  }
  const std::string driver = info.driver_name != nullptr ? info.driver_name : "?";
  if (sh.queues > info.max_rx_queues) {
    return Status::Error(
        "dpdk port " + std::to_string(port) + " (" + driver + "): " + std::to_string(sh.queues) +
        " RX queues asked, the device has at most " + std::to_string(info.max_rx_queues));
  }

  rte_eth_conf conf{};
  if (sh.queues > 1) {
    const std::uint64_t hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    if (hf != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      // DPDK takes a non-const key pointer but only reads it during configure.
      conf.rx_adv_conf.rss_conf.rss_key = const_cast<std::uint8_t*>(kSymmetricRssKey);
      conf.rx_adv_conf.rss_conf.rss_key_len = sizeof kSymmetricRssKey;
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
    } else {
      sh.notes.push_back("dpdk port " + std::to_string(port) + " (" + driver +
                         "): no RSS support, RSS skipped: " + std::to_string(sh.queues) +
                         " queues get what the driver puts on them, not whole flows");
    }
  }
  // Capture timestamps. Only net_pcap's RX timestamp is known to be the capture time: the pcap
  // record's time in microseconds since the epoch. DPDK 22.11's net_pcap does not advertise
  // RTE_ETH_RX_OFFLOAD_TIMESTAMP (asking for it fails configure) but fills the dynamic timestamp
  // field, and sets its flag, whenever the field is registered before the queue is set up.
  // Other PMDs put a free-running device clock there, which would need per-device calibration;
  // their packets are stamped with the wall clock once per burst instead (see Poll).
  if (driver == "net_pcap") {
    if (sh.ts_offset < 0 && rte_mbuf_dyn_rx_timestamp_register(&sh.ts_offset, &sh.ts_flag) != 0) {
      return Status::Error(PortError(port, "cannot register the RX timestamp field", rte_errno));
    }
    p.hw_timestamps = true;
  } else {
    sh.notes.push_back("dpdk port " + std::to_string(port) + " (" + driver +
                       "): no capture timestamps from the driver; packets are stamped with the "
                       "wall clock when received");
  }

  const int socket = rte_eth_dev_socket_id(port);
  const std::string pool_name = "wbp" + std::to_string(port) + "_" + std::to_string(g_pool_seq++);
  // The per-lcore cache must stay below mbufs / 1.5 (DPDK's rule).
  const unsigned cache = std::min<unsigned>(256, mbufs * 2 / 3);
  p.pool = rte_pktmbuf_pool_create(pool_name.c_str(), mbufs, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   socket);
  if (p.pool == nullptr) {
    return Status::Error(
        PortError(port, "cannot create a pool of " + std::to_string(mbufs) + " mbufs (raise -m?)",
                  rte_errno));
  }
  // No TX queues: we only receive.
  if (int rc = rte_eth_dev_configure(port, sh.queues, 0, &conf); rc != 0) {
    return Status::Error(PortError(port, "configure failed", rc));
  }
  p.configured = true;
  std::uint16_t rx_desc = static_cast<std::uint16_t>(std::min<std::uint32_t>(ring_size, 65535));
  std::uint16_t tx_desc = 0;
  (void)rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc);  // clamps to device limits
  rte_eth_rxconf rxconf = info.default_rxconf;
  rxconf.offloads = conf.rxmode.offloads;
  for (std::uint16_t q = 0; q < sh.queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port, q, rx_desc, static_cast<unsigned>(socket), &rxconf,
                                        p.pool);
        rc != 0) {
      return Status::Error(PortError(port, "RX queue " + std::to_string(q) + " setup failed", rc));
    }
  }
  // Promiscuous mode is what a sensor on a mirror port needs; virtual devices may not support
  // it, which is harmless for them.
  (void)rte_eth_promiscuous_enable(port);
  if (int rc = rte_eth_dev_start(port); rc != 0) {
    return Status::Error(PortError(port, "start failed", rc));
  }
  p.started = true;
  return Status::Ok();
}

// The wall clock as a StreamTime, for PMDs without capture timestamps.
StreamTime WallClockNow() noexcept {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return StreamTime::FromNanos(static_cast<std::int64_t>(now.tv_sec) * kNanosPerSecond +
                               now.tv_nsec);
}

class DpdkQueueSource final : public PacketSource {
 public:
  DpdkQueueSource(std::shared_ptr<DpdkShared> shared, const internal::DpdkPort& port,
                  std::uint16_t queue)
      : shared_(std::move(shared)),
        port_(port.port),
        queue_(queue),
        hw_timestamps_(port.hw_timestamps),
        ts_offset_(shared_->ts_offset),
        ts_flag_(shared_->ts_flag),
        end_after_(shared_->end_after_empty_polls),
        decoder_(shared_->decode, shared_->site) {}

  PollResult Poll(std::span<PacketMeta> out) override {
    PollResult r;
    if (stopped_.load(std::memory_order_relaxed)) {
      r.state = PollResult::State::kEnd;
      return r;
    }
    std::size_t frames = 0;
    while (frames < out.size()) {
      rte_mbuf* bufs[kBurst];
      const auto want =
          static_cast<std::uint16_t>(std::min<std::size_t>(kBurst, out.size() - frames));
      const std::uint16_t rx = rte_eth_rx_burst(port_, queue_, bufs, want);
      if (rx == 0) break;
      frames += rx;
      // Without a driver timestamp the whole burst gets one wall-clock reading: one clock call
      // per burst, and the packets of a burst arrived within microseconds of each other.
      StreamTime wall_ts{-1};
      for (std::uint16_t i = 0; i < rx; ++i) {
        const rte_mbuf* m = bufs[i];
        StreamTime ts;
        if (hw_timestamps_ && (m->ol_flags & ts_flag_) != 0) {
          std::uint64_t us = 0;  // net_pcap: microseconds since the epoch
          std::memcpy(&us, reinterpret_cast<const std::uint8_t*>(m) + ts_offset_, sizeof us);
          ts = StreamTime::FromMicros(static_cast<std::int64_t>(us));
        } else {
          if (wall_ts.ns < 0) wall_ts = WallClockNow();
          ts = wall_ts;
        }
        // Headers sit in the first segment; pkt_len is the whole frame.
        const auto* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
        if (decoder_.Decode(kLinkEthernet, data, m->data_len, m->pkt_len, ts, &out[r.packets]) ==
            DecodeResult::kOk) {
          ++r.packets;
        }
      }
      rte_pktmbuf_free_bulk(bufs, rx);
      if (rx < want) break;  // the queue is drained for now
    }
    if (frames == 0) {
      ++empty_polls_;
      r.state = end_after_ != 0 && empty_polls_ >= end_after_ ? PollResult::State::kEnd
                                                              : PollResult::State::kIdle;
      return r;
    }
    empty_polls_ = 0;
    r.state = PollResult::State::kMore;
    return r;
  }

  void Stop() override { stopped_.store(true, std::memory_order_relaxed); }

  // Port-level counters (imissed, ierrors, rx_nombuf) are reported by queue 0 only, so a sum over
  // a port's sources counts them once. `received` is this queue's packets where the PMD keeps
  // per-queue counters, else (one queue) the port's.
  SourceStats Stats() const override {
    SourceStats s;
    rte_eth_stats st{};
    if (rte_eth_stats_get(port_, &st) != 0) return s;
    if (shared_->queues == 1) {
      s.received = st.ipackets;
    } else if (queue_ < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
      s.received = st.q_ipackets[queue_];
    }
    if (queue_ == 0) {
      s.nic_imissed = st.imissed;
      s.nic_ierrors = st.ierrors;
      s.nic_rx_nombuf = st.rx_nombuf;
    }
    return s;
  }
  const Decoder& decoder() const override { return decoder_; }
  std::string Name() const override {
    return "dpdk:" + std::to_string(port_) + "/" + std::to_string(queue_);
  }

 private:
  static constexpr std::size_t kBurst = 32;
  std::shared_ptr<DpdkShared> shared_;
  std::uint16_t port_;
  std::uint16_t queue_;
  bool hw_timestamps_;
  int ts_offset_;
  std::uint64_t ts_flag_;
  std::uint32_t end_after_;
  std::uint32_t empty_polls_ = 0;
  Decoder decoder_;
  std::atomic<bool> stopped_{false};
};

// Sets up ports on an initialised EAL. `vdev_names[i]`, when non-empty, is removed on shutdown.
Result<std::shared_ptr<DpdkShared>> StartPorts(const DpdkOptions& options,
                                               const DecodeOptions& decode,
                                               const SiteClassifier* site,
                                               const std::vector<std::string>& vdev_names) {
  if (options.queues == 0) return Status::Error("dpdk: queues must be at least 1");
  auto sh = std::make_shared<DpdkShared>();
  sh->queues = options.queues;
  sh->end_after_empty_polls = options.end_after_empty_polls;
  sh->decode = decode;
  sh->site = site;
  std::vector<std::uint16_t> ports = options.ports;
  if (ports.empty()) {
    // RTE_ETH_FOREACH_DEV spelled out: the macro's C cast trips -Wold-style-cast.
    for (std::uint64_t pid = rte_eth_find_next_owned_by(0, RTE_ETH_DEV_NO_OWNER);
         pid < RTE_MAX_ETHPORTS; pid = rte_eth_find_next_owned_by(
                                     static_cast<std::uint16_t>(pid + 1), RTE_ETH_DEV_NO_OWNER)) {
      ports.push_back(static_cast<std::uint16_t>(pid));
    }
    if (ports.empty()) return Status::Error("dpdk: the EAL found no ports (check -a / --vdev)");
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    internal::DpdkPort p;
    p.port = ports[i];
    if (i < vdev_names.size()) p.vdev_name = vdev_names[i];
    sh->ports.push_back(p);
  }
  for (internal::DpdkPort& p : sh->ports) {
    if (Status st = SetUpPort(*sh, p, options.rx_ring_size, options.mbufs); !st.ok()) return st;
  }
  return sh;
}

}  // namespace

DpdkRuntime::DpdkRuntime(std::shared_ptr<internal::DpdkShared> shared)
    : shared_(std::move(shared)) {}
DpdkRuntime::~DpdkRuntime() = default;

Result<std::unique_ptr<DpdkRuntime>> DpdkRuntime::Start(const DpdkOptions& options,
                                                        const DecodeOptions& decode,
                                                        const SiteClassifier* site) {
  Result<bool> eal = InitEal(options.eal_args);
  if (!eal.ok()) return eal.status();
  auto sh = StartPorts(options, decode, site, {});
  if (!sh.ok()) return sh.status();
  return std::unique_ptr<DpdkRuntime>(new DpdkRuntime(std::move(*sh)));
}

std::vector<std::unique_ptr<PacketSource>> DpdkRuntime::TakeSources() {
  std::vector<std::unique_ptr<PacketSource>> out;
  if (taken_) return out;
  taken_ = true;
  for (const internal::DpdkPort& p : shared_->ports) {
    for (std::uint16_t q = 0; q < shared_->queues; ++q) {
      out.push_back(std::make_unique<DpdkQueueSource>(shared_, p, q));
    }
  }
  return out;
}

const std::vector<std::string>& DpdkRuntime::notes() const {
  return shared_->notes;
}

std::vector<std::string> DpdkReplayEalArgs(const std::string& path) {
  return {"-l",
          "0",
          "--no-huge",
          "--no-pci",
          "-m",
          "256",
          "--no-shconf",
          "--log-level=error",
          "--vdev=net_pcap0,rx_pcap=" + path};
}

Result<std::unique_ptr<PacketSource>> OpenDpdkPcapReplay(const std::string& path,
                                                         const DecodeOptions& decode,
                                                         const SiteClassifier* site,
                                                         std::uint32_t end_after_empty_polls) {
  // net_pcap hands frames over as Ethernet whatever the file says; check first, cheaply.
  {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
    if (p == nullptr) return Status::Error("cannot open capture file " + path + ": " + errbuf);
    const int dlt = pcap_datalink(p);
    pcap_close(p);
    if (dlt != DLT_EN10MB) {
      const char* name = pcap_datalink_val_to_name(dlt);
      return Status::Error(path +
                           ": DPDK's net_pcap reads Ethernet captures only; this one has "
                           "link type " +
                           (name != nullptr ? name : std::to_string(dlt)) +
                           " (read it without --via dpdk)");
    }
  }
  if (path == "-" || path.find(',') != std::string::npos) {
    return Status::Error(path + ": net_pcap cannot read standard input or a path with a comma");
  }
  Result<bool> eal = InitEal(DpdkReplayEalArgs(path));
  if (!eal.ok()) return eal.status();
  std::string vdev = "net_pcap0";
  if (!*eal) {
    // The EAL was already up (another replay or runtime): hot-plug a new net_pcap device.
    vdev = "net_pcap_wb" + std::to_string(++g_vdev_seq);
    if (int rc = rte_eal_hotplug_add("vdev", vdev.c_str(), ("rx_pcap=" + path).c_str()); rc != 0) {
      return Status::Error(path + ": cannot create DPDK device " + vdev + ": " +
                           rte_strerror(rc < 0 ? -rc : rc));
    }
  }
  std::uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(vdev.c_str(), &port) != 0) {
    (void)rte_eal_hotplug_remove("vdev", vdev.c_str());
    return Status::Error(path + ": DPDK device " + vdev + " has no port");
  }
  DpdkOptions opt;
  opt.ports = {port};
  opt.end_after_empty_polls = end_after_empty_polls;
  auto sh = StartPorts(opt, decode, site, {vdev});
  if (!sh.ok()) return sh.status();
  const internal::DpdkPort& first = (*sh)->ports.front();
  return std::unique_ptr<PacketSource>(std::make_unique<DpdkQueueSource>(*sh, first, 0));
}

Status InitDpdkEal(const std::vector<std::string>& eal_args) {
  Result<bool> r = InitEal(eal_args);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::uint16_t> CreateDpdkVdev(const std::string& name, const std::string& args) {
  {
    std::lock_guard<std::mutex> lock(g_eal_mu);
    if (g_eal_state != EalState::kUp) return Status::Error("dpdk: the EAL is not running");
  }
  if (int rc = rte_eal_hotplug_add("vdev", name.c_str(), args.c_str()); rc != 0) {
    return Status::Error("dpdk: cannot create device " + name + " (" + args +
                         "): " + rte_strerror(rc < 0 ? -rc : rc));
  }
  std::uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
    return Status::Error("dpdk: device " + name + " has no ethdev port");
  }
  return port;
}

void ShutdownDpdkEal() {
  std::lock_guard<std::mutex> lock(g_eal_mu);
  if (g_eal_state == EalState::kUp) (void)rte_eal_cleanup();
  g_eal_state = EalState::kCleanedUp;
}

}  // namespace weighbridge::capture
