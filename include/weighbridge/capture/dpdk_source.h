// DPDK capture: one PacketSource per (port, RX queue), each polled by one thread that runs to
// completion (rx burst -> decode each mbuf -> free). No DPDK header is included here: DPDK's
// compile flags (-include rte_config.h -march=corei7) stay inside weighbridge_capture_dpdk.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/capture/decode.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/capture/source.h"
#include "weighbridge/core/result.h"

namespace weighbridge::capture {

// Filled in by app/ from a `capture: - {type: dpdk, ...}` entry.
struct DpdkOptions {
  std::vector<std::string> eal_args;  // EAL arguments without the program name
  std::vector<std::uint16_t> ports;   // DPDK port ids; empty: every port the EAL found
  std::uint16_t queues = 1;           // RX queues per port, spread by symmetric RSS when > 1
  std::uint32_t rx_ring_size = 1024;  // descriptors per RX queue
  std::uint32_t mbufs = 8191;         // mbufs per port's pool (2^n - 1 is the most efficient)
  // Replays only: Poll reports kEnd after this many consecutive empty polls. net_pcap returns
  // zero packets forever once its file is exhausted and has no end-of-file signal; 0 = a live
  // port that never ends.
  std::uint32_t end_after_empty_polls = 0;
};

namespace internal {
struct DpdkShared;
}

// Owns the configured and started ports. Created once per process by app/ (or a test); its
// sources may be polled from one thread each. Destroying the runtime and every source it handed
// out stops and closes the ports (whichever goes last does it). The EAL itself lives until
// ShutdownDpdkEal().
class DpdkRuntime {
 public:
  // Initialises the EAL with options.eal_args the first time it is called in a process (DPDK
  // cannot initialise twice; later calls reuse the EAL and ignore eal_args), then configures
  // each port with `queues` RX queues and starts it.
  static Result<std::unique_ptr<DpdkRuntime>> Start(const DpdkOptions& options,
                                                    const DecodeOptions& decode,
                                                    const SiteClassifier* site);
  ~DpdkRuntime();
  DpdkRuntime(const DpdkRuntime&) = delete;
  DpdkRuntime& operator=(const DpdkRuntime&) = delete;

  // One source per (port, queue), ports in the given order, queues ascending; named
  // "dpdk:<port>/<queue>". Port-level NIC counters (imissed, ierrors, rx_nombuf) are reported by
  // queue 0's source only, so summing Stats() over all sources counts each once.
  // Can be called once; later calls return an empty vector.
  std::vector<std::unique_ptr<PacketSource>> TakeSources();

  // Decisions made at start that an operator should see (RSS skipped, software timestamps).
  const std::vector<std::string>& notes() const;

 private:
  explicit DpdkRuntime(std::shared_ptr<internal::DpdkShared> shared);
  std::shared_ptr<internal::DpdkShared> shared_;
  bool taken_ = false;
};

// Reads a capture file through DPDK's net_pcap PMD (for `weighbridge replay --via dpdk` and the
// tests). If the EAL is not initialised yet it is started with
//   -l 0 --no-huge --no-pci -m 256 --no-shconf --log-level=error --vdev=net_pcap0,rx_pcap=FILE
// otherwise a new net_pcap vdev is hot-plugged into the running EAL. net_pcap handles Ethernet
// captures only; other link types are rejected here (checked with libpcap first).
// net_pcap sets each mbuf's length to the record's *captured* length, so the original length of
// a snaplen-truncated record is lost: wire_bytes is the captured length, and header-only captures
// decode as ip_length_exceeds_frame. Replay those with the pcap reader. Timestamps are the
// records' times to the microsecond (net_pcap's resolution).
// End of input: net_pcap never says "end of file", it returns zero packets forever; the source
// reports kEnd after `end_after_empty_polls` consecutive empty bursts (default 64: a file PMD
// that has data returns a non-empty burst on every poll, so a run of empty ones means the end).
Result<std::unique_ptr<PacketSource>> OpenDpdkPcapReplay(const std::string& path,
                                                         const DecodeOptions& decode,
                                                         const SiteClassifier* site,
                                                         std::uint32_t end_after_empty_polls = 64);

// The EAL arguments OpenDpdkPcapReplay uses when it initialises the EAL itself.
std::vector<std::string> DpdkReplayEalArgs(const std::string& path);

// Initialises the EAL with `eal_args` unless it is already up (then the arguments are ignored).
Status InitDpdkEal(const std::vector<std::string>& eal_args);

// Creates a virtual device in the running EAL (e.g. "net_null1", "" or "net_pcap1",
// "rx_pcap=f.pcap") and returns its port id. The device lives until ShutdownDpdkEal().
Result<std::uint16_t> CreateDpdkVdev(const std::string& name, const std::string& args);

// Calls rte_eal_cleanup once, after every DpdkRuntime and source is gone. Afterwards DPDK cannot
// be used again in this process. Safe to call when the EAL was never initialised.
void ShutdownDpdkEal();

}  // namespace weighbridge::capture
