// The synthetic traffic generator. Every flow is a small state machine (a "cursor") that knows
// the time of its next packet; a min-heap of cursors merges all flows into one time-ordered
// stream, so memory is bounded by the flows active at once and a 16 GB upload is never
// materialised. Frames are written field by field into one reused buffer: no allocation per
// packet. The truth is accumulated from the same packet descriptions the frames are built from,
// never by reading the frames back.
#include "weighbridge/capture/synth.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "weighbridge/core/bytes.h"

namespace weighbridge::capture {
namespace internal {
namespace {

constexpr std::int64_t kUs = kNanosPerMicro;
constexpr std::int64_t kMs = 1000 * kUs;
constexpr std::int64_t kSec = kNanosPerSecond;

constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kProtoIcmpv6 = 58;

// Header sizes. TCP carries the timestamps option on every segment (NOP NOP TS = 12 bytes) and
// MSS/SACK-permitted/TS/WS on SYNs (20 bytes), as Linux does.
constexpr std::uint32_t kTcpHeader = 32;
constexpr std::uint32_t kTcpSynHeader = 40;
constexpr std::uint32_t kMssV4 = 1500 - 20 - kTcpHeader;  // 1448
constexpr std::uint32_t kMssV6 = 1500 - 40 - kTcpHeader;  // 1428
constexpr std::uint32_t kIcmpEchoData = 56;               // ping's default
constexpr std::uint32_t kMinFrame = 60;                   // Ethernet minimum without FCS
constexpr std::uint32_t kVxlanOuter = 14 + 20 + 8 + 8;

// splitmix64: tiny, fast, and its output is fixed by its definition (std:: distributions are not
// the same across standard libraries, which would break byte-identical captures).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi]; the modulo bias is far below anything a test could see.
  std::uint64_t Range(std::uint64_t lo, std::uint64_t hi) { return lo + Next() % (hi - lo + 1); }
  bool Percent(std::uint64_t p) { return Next() % 100 < p; }

 private:
  std::uint64_t s_;
};

enum class FlowKind : std::uint8_t { kTcp, kUdp, kIcmpEcho };

// Everything fixed about a flow when it is created.
struct FlowSpec {
  FlowKind kind = FlowKind::kTcp;
  bool v6 = false;
  bool vxlan = false;  // carried inside VXLAN between kVtepOutside and kVtepInside
  IpAddress a;         // the side that sends first
  IpAddress b;
  std::uint16_t a_port = 0;
  std::uint16_t b_port = 0;
  std::uint16_t vlan = 0;
  // TCP: payload bytes a sends (request/upload), then b sends (response/download).
  // UDP: payload of each datagram a sends and b answers with (0: no answer).
  std::uint64_t a_bytes = 0;
  std::uint64_t b_bytes = 0;
  std::int64_t interval_ns = 10 * kUs;  // TCP: data segment spacing; UDP/ICMP: between exchanges
  std::int64_t rtt_ns = 10 * kMs;
  std::uint32_t isn_a = 0;
  std::uint32_t isn_b = 0;
  std::uint32_t retx_every = 0;  // every Nth data segment is sent twice (0: never)
  std::uint32_t exchanges = 1;   // UDP request/response pairs, ICMP echo pairs
  bool rst_close = false;        // a closes with RST instead of the FIN handshake
  bool syn_only = false;         // a lone SYN (scans)
};

enum Phase : std::uint8_t {
  kSyn,
  kSynAck,
  kHandshakeAck,
  kDataA,
  kDataB,
  kFinA,
  kFinB,
  kLastAck,
  kRst,
  kExchange,
  kDone
};

struct Flow {
  FlowSpec spec;
  std::uint64_t id = 0;      // creation order; ties in the heap and the truth order
  std::int64_t t = 0;        // time of the next packet, ns
  std::int64_t seg_t = 0;    // start of the current data-segment (or exchange) slot
  std::uint64_t a_sent = 0;  // unique payload bytes sent so far
  std::uint64_t b_sent = 0;
  std::uint64_t k = 0;  // data segment index in the current phase; exchange index
  std::uint16_t ip_id = 0;
  Phase phase = kSyn;
  std::uint8_t sub = 0;
  SynthTruthFlow truth;
};

// What one packet looks like; built by a flow's step, consumed by the frame builder and truth.
struct Pkt {
  bool from_b = false;
  std::uint8_t tcp_flags = 0;
  bool syn_options = false;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint32_t payload = 0;         // transport payload bytes on the wire
  std::uint32_t unique_payload = 0;  // what the truth counts (retransmissions and ICMP: 0)
  std::uint8_t icmp_type = 0;
  std::uint16_t icmp_seq = 0;
};

enum class SpawnKind : std::uint8_t { kBackground, kScan };

// Creates flows over time instead of all at once, so that millions of flows need no memory up
// front.
struct Spawner {
  SpawnKind kind = SpawnKind::kBackground;
  std::int64_t t = 0;
  std::int64_t mean_gap_ns = kMs;
  std::uint64_t remaining = 0;  // flows still to create; UINT64_MAX: until the packet cap
  std::uint64_t made = 0;
  std::int64_t rate_scale = 1;  // background: divides per-flow rates (slower flows last longer)
};

struct Event {
  std::int64_t t;
  std::uint64_t order;  // insertion order: equal times pop in a fixed, seed-determined order
  std::uint32_t index;
  bool spawner;
};
struct EventLater {
  bool operator()(const Event& x, const Event& y) const {
    return x.t != y.t ? x.t > y.t : x.order > y.order;
  }
};

IpAddress V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return IpAddress::V4((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) |
                       (std::uint32_t{c} << 8) | d);
}
// 2001:db8:<g2>:<g3>::<lo16 hi>:<lo16>.
IpAddress V6(std::uint16_t g2, std::uint16_t g3, std::uint32_t low) {
  IpAddress a;
  StoreBe16(&a.bytes[0], 0x2001);
  StoreBe16(&a.bytes[2], 0x0db8);
  StoreBe16(&a.bytes[4], g2);
  StoreBe16(&a.bytes[6], g3);
  StoreBe32(&a.bytes[12], low);
  return a;
}

// The VXLAN tunnel endpoints: an outside VTEP (a partner's gateway) and the site's own.
const IpAddress kVtepOutside = V4(192, 0, 2, 1);
const IpAddress kVtepInside = V4(10, 0, 0, 1);

constexpr std::uint16_t kInsideV6 = 0x0100;   // 2001:db8:100::/48
constexpr std::uint16_t kOutsideV6 = 0x0f00;  // 2001:db8:f00::/48

std::uint32_t SumBytes(const std::uint8_t* p, std::size_t n, std::uint32_t sum) noexcept {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += LoadBe16(p + i);
  if (n & 1) sum += std::uint32_t{p[n - 1]} << 8;
  return sum;
}
std::uint16_t Fold(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Buffered little-endian pcap writer: one fwrite per few MiB.
class PcapWriter {
 public:
  static constexpr std::size_t kBuffer = 8u << 20;
  ~PcapWriter() {
    if (f_ != nullptr) std::fclose(f_);
  }
  Status Open(const std::string& path, std::uint32_t snaplen) {
    f_ = std::fopen(path.c_str(), "wb");
    if (f_ == nullptr) return Status::Error(path + ": cannot create: " + std::strerror(errno));
    buf_.resize(kBuffer);
    std::uint8_t h[24] = {};
    PutLe32(h, 0xa1b23c4d);  // nanosecond-resolution pcap
    PutLe16(h + 4, 2);
    PutLe16(h + 6, 4);
    PutLe32(h + 16, snaplen == 0 ? 262144 : snaplen);
    PutLe32(h + 20, 1);  // LINKTYPE_ETHERNET
    Append(h, sizeof(h));
    return Status::Ok();
  }
  void Record(StreamTime ts, const std::uint8_t* data, std::uint32_t caplen, std::uint32_t len) {
    std::uint8_t h[16];
    PutLe32(h, static_cast<std::uint32_t>(ts.ns / kSec));
    PutLe32(h + 4, static_cast<std::uint32_t>(ts.ns % kSec));
    PutLe32(h + 8, caplen);
    PutLe32(h + 12, len);
    Append(h, sizeof(h));
    Append(data, caplen);
  }
  Status Close(const std::string& path) {
    Flush();
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    const bool failed = !ok_ || !closed;
    if (failed) return Status::Error(path + ": write failed: " + std::strerror(errno));
    return Status::Ok();
  }

 private:
  static void PutLe16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
  }
  static void PutLe32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void Append(const std::uint8_t* p, std::size_t n) {
    if (used_ + n > buf_.size()) Flush();
    std::memcpy(buf_.data() + used_, p, n);
    used_ += n;
  }
  void Flush() {
    if (used_ > 0 && ok_ && std::fwrite(buf_.data(), 1, used_, f_) != used_) ok_ = false;
    used_ = 0;
  }
  std::FILE* f_ = nullptr;
  std::vector<std::uint8_t> buf_;
  std::size_t used_ = 0;
  bool ok_ = true;
};

struct ScenarioDef {
  const char* name;
  const char* description;
};
constexpr ScenarioDef kScenarios[] = {
    {"tiny",
     "eight flows for quick tests: web, a v6 upload with retransmissions and a seq wrap, "
     "DNS (one on VLAN 100), ICMP and ICMPv6 echo, a RST close on VLAN 200, a SYN probe"},
    {"edge-mix",
     "60 s of web/DNS/ICMP background (v4+v6, some on VLAN 10) plus a 20 MB "
     "4-stream upload, a 30 MB 2-stream v6 download and a 10 MB internal copy on "
     "VLAN 20; under 200k packets"},
    {"demo",
     "edge-mix, then 3 days later 2,460,000,000 bytes (1.23B parameters in bf16) uploaded to "
     "the organisation that sent the 30 MB download (2001:db8:f00::/48): what `weighbridge "
     "demo` shows; about 1.9M packets"},
    {"bulk-upload",
     "one 1 GB 8-stream upload from 10.30.1.10 to 203.0.113.50:443 at 10 Gbit/s, "
     "light background"},
    {"ingest",
     "64 inbound streams (2 GB in all) from 8 hosts of 192.0.2.0/24 to 4 research "
     "hosts, light background"},
    {"flood-upload",
     "300k one-packet flows (a SYN scan from 508 outside sources) plus a 1 GB "
     "4-stream upload"},
    {"flood-weights",
     "flood-upload's 300k one-packet flows around an 8-stream upload of 16,060,000,000 payload "
     "bytes (8B parameters in bf16) to 203.0.113.61:443 at 10 Gbit/s; about 11.4M packets"},
    {"bench-10m",
     "exactly 10,000,000 packets: thousands of concurrent web/DNS/ICMP flows plus "
     "bulk uploads; for replay benchmarks (use with --snaplen 128)"},
    {"weights-16g",
     "an 8-stream upload of 16,060,000,000 payload bytes (8B parameters in bf16) "
     "to 203.0.113.77:443 at 10 Gbit/s; about 16.6M packets"},
    {"tunnel-vxlan",
     "web flows and a 50 MB upload carried inside VXLAN (UDP 4789) between "
     "192.0.2.1 and 10.0.0.1, plus untunnelled DNS; truth is the inner packets"},
    {"train-and-return",
     "2 GB downloaded by 10.30.7.10 from 198.51.100.20 (8 streams), then 3 days later "
     "2,460,000,000 bytes (1.23B parameters in bf16) uploaded to 198.51.100.30 (4 streams)"},
    {"v6-vlan-upload",
     "a 1.5 GB 4-stream IPv6 upload on VLAN 30 from 2001:db8:100:30::77 to "
     "2001:db8:f00::77:443, light background"},
    {"slow-upload-gap",
     "two 600 MiB halves of one upload from 10.30.8.10 to 203.0.113.90:443, 15 minutes "
     "apart (longer than the default 10 minute transfer gap)"},
};

}  // namespace

class SynthImpl {
 public:
  explicit SynthImpl(const SynthOptions& options);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool Next(StreamTime* ts, const std::uint8_t** data, std::uint32_t* caplen,
            std::uint32_t* wire_len) noexcept;
  const std::vector<SynthTruthFlow>& truth() const { return truth_; }
  std::uint64_t frames_total() const { return max_frames_; }
  std::uint64_t frames_done() const { return frames_; }

 private:
  // Scenario building.
  void SetUp(const std::string& name);
  std::int64_t At(std::int64_t offset_ns) const { return start_ + offset_ns; }
  std::uint64_t Scaled(double n) const {
    return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(n * scale_)));
  }
  void AddFlow(const FlowSpec& spec, std::int64_t t);
  void AddSpawner(SpawnKind kind, std::int64_t t, std::int64_t mean_gap, std::uint64_t count,
                  std::int64_t rate_scale = 1);
  // A file of `total` payload bytes over `streams` parallel TCP connections from client to
  // server (upload: the client sends it; otherwise the server does), paced at `rate_bps` for
  // the whole transfer. Stream 0's ISN is placed so its sequence numbers wrap past 2^32.
  struct Transfer {
    IpAddress client;
    IpAddress server;
    std::uint16_t first_port = 40000;
    std::uint16_t server_port = 443;
    std::uint16_t vlan = 0;
    bool upload = true;
    bool vxlan = false;
    std::uint64_t total = 0;
    std::uint32_t streams = 1;
    double rate_bps = 1e9;
    std::int64_t rtt_ns = 20 * kMs;
    std::uint32_t retx_every = 1000;
    bool rst_last = false;  // the last stream closes with RST
  };
  void AddTransfer(const Transfer& tr, std::int64_t t);
  void SpawnBackground(Spawner& s);
  void SpawnScan(Spawner& s);
  std::int64_t SegmentInterval(bool v6, double rate_bps) const;

  // Unique client endpoints, so that no two flows of a scenario share a 5-tuple.
  std::pair<IpAddress, std::uint16_t> InsideClient(bool v6);
  std::pair<IpAddress, std::uint16_t> OutsideClient(bool v6);
  IpAddress OutsideHost(bool v6);
  IpAddress InsideServer(bool v6);

  // Packet generation.
  void Step(Flow& f, Pkt* p) noexcept;
  void TcpStep(Flow& f, Pkt* p) noexcept;
  void DataStep(Flow& f, Pkt* p, bool from_b) noexcept;
  void ExchangeStep(Flow& f, Pkt* p) noexcept;
  std::uint32_t Build(const Flow& f, const Pkt& p, std::uint32_t* l3_len) noexcept;
  void Finish(std::uint32_t slot);
  void Finalize();

  std::string error_;
  double scale_ = 1.0;
  std::uint32_t snaplen_ = 0;
  std::int64_t start_ = 0;
  Rng rng_;
  std::uint64_t max_frames_ = 0;  // 0: no cap
  std::uint64_t frames_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t next_order_ = 0;
  std::uint64_t inside_clients_ = 0;
  std::uint64_t outside_clients_ = 0;
  std::uint64_t pingers_ = 0;
  bool finalized_ = false;

  std::vector<Flow> flows_;
  std::vector<std::uint32_t> free_;
  std::vector<Spawner> spawners_;
  std::vector<Event> heap_;
  std::vector<std::pair<std::uint64_t, SynthTruthFlow>> done_;
  std::vector<SynthTruthFlow> truth_;

  alignas(64) std::uint8_t buf_[2048] = {};
  std::uint32_t dirty_end_ = 0;  // bytes of buf_ that may hold header bytes of an earlier frame
};

namespace {
std::uint64_t HashName(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}
}  // namespace

SynthImpl::SynthImpl(const SynthOptions& options)
    : scale_(options.scale),
      snaplen_(options.snaplen),
      start_(options.start.ns - options.start.ns % kUs),
      rng_(options.seed ^ HashName(options.scenario)) {
  if (!(scale_ > 0) || scale_ > 1e6) {
    error_ = "synth: scale must be above 0 and at most 1e6";
    return;
  }
  if (snaplen_ != 0 && snaplen_ < 14) {
    error_ = "synth: snaplen must be 0 (full frames) or at least 14";
    return;
  }
  bool known = false;
  std::string names;
  for (const ScenarioDef& d : kScenarios) {
    known = known || options.scenario == d.name;
    names += names.empty() ? "" : ", ";
    names += d.name;
  }
  if (!known) {
    error_ = "unknown scenario \"" + options.scenario + "\" (valid: " + names + ")";
    return;
  }
  SetUp(options.scenario);
}

std::int64_t SynthImpl::SegmentInterval(bool v6, double rate_bps) const {
  // Full-size frame on the wire: payload + TCP + IP + Ethernet, plus preamble and gap.
  const double bits = (1500.0 + 14 + 20) * 8;
  (void)v6;
  const double ns = bits / rate_bps * 1e9;
  return std::max<std::int64_t>(3, static_cast<std::int64_t>(ns));
}

void SynthImpl::AddFlow(const FlowSpec& spec, std::int64_t t) {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(flows_.size());
    flows_.emplace_back();
  }
  Flow& f = flows_[slot];
  f = Flow{};
  f.spec = spec;
  f.id = next_id_++;
  f.t = t;
  f.seg_t = t;
  f.ip_id = static_cast<std::uint16_t>(rng_.Next());
  f.phase = spec.kind == FlowKind::kTcp ? kSyn : kExchange;
  f.truth.proto = spec.kind == FlowKind::kTcp   ? kProtoTcp
                  : spec.kind == FlowKind::kUdp ? kProtoUdp
                  : spec.v6                     ? kProtoIcmpv6
                                                : kProtoIcmp;
  f.truth.a = spec.a;
  f.truth.b = spec.b;
  const bool ports = spec.kind != FlowKind::kIcmpEcho;
  f.truth.a_port = ports ? spec.a_port : 0;
  f.truth.b_port = ports ? spec.b_port : 0;
  f.truth.vlan = spec.vlan;
  heap_.push_back(Event{t, next_order_++, slot, false});
  std::push_heap(heap_.begin(), heap_.end(), EventLater{});
}

void SynthImpl::AddSpawner(SpawnKind kind, std::int64_t t, std::int64_t mean_gap,
                           std::uint64_t count, std::int64_t rate_scale) {
  Spawner s;
  s.kind = kind;
  s.t = t;
  s.mean_gap_ns = mean_gap;
  s.remaining = count;
  s.rate_scale = rate_scale;
  spawners_.push_back(s);
  heap_.push_back(Event{t, next_order_++, static_cast<std::uint32_t>(spawners_.size() - 1), true});
  std::push_heap(heap_.begin(), heap_.end(), EventLater{});
}

void SynthImpl::AddTransfer(const Transfer& tr, std::int64_t t) {
  const bool v6 = !tr.client.IsV4();
  const std::int64_t iv = SegmentInterval(v6, tr.rate_bps / tr.streams);
  for (std::uint32_t i = 0; i < tr.streams; ++i) {
    FlowSpec s;
    s.kind = FlowKind::kTcp;
    s.v6 = v6;
    s.vxlan = tr.vxlan;
    s.a = tr.client;
    s.b = tr.server;
    s.a_port = static_cast<std::uint16_t>(tr.first_port + i);
    s.b_port = tr.server_port;
    s.vlan = tr.vlan;
    // The remainder goes to the first streams so the streams add up to exactly `total`.
    const std::uint64_t share = tr.total / tr.streams + (i < tr.total % tr.streams ? 1 : 0);
    s.a_bytes = tr.upload ? share : 300;
    s.b_bytes = tr.upload ? 0 : share;
    s.interval_ns = iv;
    s.rtt_ns = tr.rtt_ns;
    s.isn_a = static_cast<std::uint32_t>(rng_.Next());
    s.isn_b = static_cast<std::uint32_t>(rng_.Next());
    if (i == 0) {
      // Wrap about a third of the way into the bulk direction.
      const std::uint32_t before =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(share / 3, 1u << 30)) + 1;
      if (tr.upload) {
        s.isn_a = 0u - before;
      } else {
        s.isn_b = 0u - before;
      }
    }
    s.retx_every = tr.retx_every;
    s.rst_close = tr.rst_last && i + 1 == tr.streams;
    // Streams start a few hundred microseconds apart, as parallel clients open them.
    AddFlow(s, t + static_cast<std::int64_t>(i) * 300 * kUs +
                   static_cast<std::int64_t>(rng_.Range(0, 99)) * kUs);
  }
}

std::pair<IpAddress, std::uint16_t> SynthImpl::InsideClient(bool v6) {
  // Each (host, port) pair is used once: hosts cycle fastest, ports advance once per cycle.
  const std::uint64_t c = inside_clients_++;
  const std::uint32_t host = static_cast<std::uint32_t>(1 + c % 65534);
  const auto port = static_cast<std::uint16_t>(32768 + (c / 65534) % 28232);
  if (v6) return {V6(kInsideV6, 0x40, host), port};
  return {V4(10, 40, static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host)), port};
}

std::pair<IpAddress, std::uint16_t> SynthImpl::OutsideClient(bool v6) {
  const std::uint64_t c = outside_clients_++;
  const auto port = static_cast<std::uint16_t>(32768 + (c / 762) % 28232);
  if (v6) return {V6(kOutsideV6, 0, 0x10000 + static_cast<std::uint32_t>(c % 762)), port};
  const auto idx = static_cast<std::uint32_t>(c % 762);
  static constexpr std::uint8_t kNets[3][3] = {{198, 51, 100}, {203, 0, 113}, {192, 0, 2}};
  const auto* n = kNets[idx / 254];
  return {V4(n[0], n[1], n[2], static_cast<std::uint8_t>(1 + idx % 254)), port};
}

IpAddress SynthImpl::OutsideHost(bool v6) {
  if (v6)
    return V6(kOutsideV6, static_cast<std::uint16_t>(rng_.Range(0, 15)),
              static_cast<std::uint32_t>(rng_.Range(1, 4000)));
  static constexpr std::uint8_t kNets[3][3] = {{198, 51, 100}, {203, 0, 113}, {192, 0, 2}};
  const auto* n = kNets[rng_.Range(0, 2)];
  return V4(n[0], n[1], n[2], static_cast<std::uint8_t>(rng_.Range(1, 254)));
}

IpAddress SynthImpl::InsideServer(bool v6) {
  if (v6) return V6(kInsideV6, 0x10, static_cast<std::uint32_t>(rng_.Range(1, 500)));
  return V4(10, 10, static_cast<std::uint8_t>(rng_.Range(0, 3)),
            static_cast<std::uint8_t>(rng_.Range(1, 254)));
}

void SynthImpl::SpawnBackground(Spawner& sp) {
  const std::uint64_t r = rng_.Range(0, 99);
  const bool v6 = rng_.Percent(25);
  const std::uint16_t vlan = rng_.Percent(15) ? 10 : 0;
  FlowSpec s;
  s.v6 = v6;
  s.vlan = vlan;
  if (r < 60) {
    // Web: an inside client fetching from outside, or an outside client of an inside server.
    s.kind = FlowKind::kTcp;
    const bool outbound = rng_.Percent(70);
    if (outbound) {
      std::tie(s.a, s.a_port) = InsideClient(v6);
      s.b = OutsideHost(v6);
    } else {
      std::tie(s.a, s.a_port) = OutsideClient(v6);
      s.b = InsideServer(v6);
    }
    s.b_port = rng_.Percent(85) ? 443 : 80;
    s.a_bytes = rng_.Range(200, 1200);
    // Roughly log-uniform from 1 kB to 256 kB.
    s.b_bytes = (std::uint64_t{1000} << rng_.Range(0, 8)) + rng_.Range(0, 999);
    const double rate =
        static_cast<double>(rng_.Range(20, 500)) * 1e6 / static_cast<double>(sp.rate_scale);
    s.interval_ns = SegmentInterval(v6, rate);
    s.rtt_ns = static_cast<std::int64_t>(rng_.Range(5, 80)) * kMs;
    s.isn_a = static_cast<std::uint32_t>(rng_.Next());
    s.isn_b = static_cast<std::uint32_t>(rng_.Next());
    s.retx_every = rng_.Percent(5) ? 20 : 0;
    s.rst_close = rng_.Percent(3);
  } else if (r < 90) {
    s.kind = FlowKind::kUdp;
    std::tie(s.a, s.a_port) = InsideClient(v6);
    s.b = v6 ? V6(kOutsideV6, 0, 0x53) : V4(192, 0, 2, 53);
    s.b_port = 53;
    s.a_bytes = rng_.Range(30, 60);
    s.b_bytes = rng_.Range(60, 400);
    s.rtt_ns = static_cast<std::int64_t>(rng_.Range(1, 30)) * kMs;
  } else {
    // ICMP flows have no ports, so each pinger host is used once (until 65534 of them).
    s.kind = FlowKind::kIcmpEcho;
    const std::uint64_t c = pingers_++;
    const auto host = static_cast<std::uint32_t>(1 + c % 65534);
    s.a = v6 ? V6(kInsideV6, 0x41, host)
             : V4(10, 41, static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host));
    s.b = OutsideHost(v6);
    s.a_port = static_cast<std::uint16_t>(c);  // the echo identifier
    s.exchanges = static_cast<std::uint32_t>(rng_.Range(1, 4));
    s.interval_ns = kSec;
    s.a_bytes = kIcmpEchoData;
    s.b_bytes = kIcmpEchoData;
    s.rtt_ns = static_cast<std::int64_t>(rng_.Range(1, 80)) * kMs;
  }
  AddFlow(s, sp.t);
}

void SynthImpl::SpawnScan(Spawner& sp) {
  static constexpr std::uint16_t kPorts[] = {22, 23, 25, 445, 3389, 5900, 6379, 8080, 9200, 27017};
  static constexpr std::uint8_t kNets[2][3] = {{203, 0, 113}, {198, 51, 100}};
  // Sources cycle over 508 addresses; the source port advances once per cycle, so every probe is
  // its own 5-tuple (for up to 28 million probes).
  const std::uint64_t i = sp.made;
  const auto idx = static_cast<std::uint32_t>(i % 508);
  const auto* n = kNets[idx / 254];
  FlowSpec s;
  s.kind = FlowKind::kTcp;
  s.syn_only = true;
  s.a = V4(n[0], n[1], n[2], static_cast<std::uint8_t>(1 + idx % 254));
  s.a_port = static_cast<std::uint16_t>(10000 + (i / 508) % 55000);
  s.b = V4(10, 10, static_cast<std::uint8_t>(rng_.Range(0, 255)),
           static_cast<std::uint8_t>(rng_.Range(1, 254)));
  s.b_port = kPorts[rng_.Range(0, 9)];
  s.isn_a = static_cast<std::uint32_t>(rng_.Next());
  AddFlow(s, sp.t);
}

void SynthImpl::SetUp(const std::string& name) {
  const std::int64_t t0 = start_;
  if (name == "tiny") {
    FlowSpec web;
    web.a = V4(10, 40, 0, 10);
    web.a_port = 50000;
    web.b = V4(198, 51, 100, 20);
    web.b_port = 443;
    web.a_bytes = 517;
    web.b_bytes = 5000;
    web.interval_ns = 100 * kUs;
    web.rtt_ns = 20 * kMs;
    web.isn_a = 1000;
    web.isn_b = 2000000;
    AddFlow(web, t0);

    Transfer up;
    up.client = V6(kInsideV6, 0x30, 0x10);
    up.server = V6(kOutsideV6, 0, 0x77);
    up.first_port = 40001;
    up.total = Scaled(100000);
    up.streams = 1;
    up.rate_bps = 100e6;
    up.retx_every = 10;
    AddTransfer(up, t0 + 5 * kMs);

    FlowSpec dns;
    dns.kind = FlowKind::kUdp;
    dns.a = V4(10, 40, 0, 11);
    dns.a_port = 53001;
    dns.b = V4(192, 0, 2, 53);
    dns.b_port = 53;
    dns.a_bytes = 40;
    dns.b_bytes = 120;
    dns.rtt_ns = 3 * kMs;
    AddFlow(dns, t0 + 1 * kMs);
    dns.v6 = true;
    dns.a = V6(kInsideV6, 0x40, 0x11);
    dns.b = V6(kOutsideV6, 0, 0x53);
    dns.vlan = 100;
    dns.a_bytes = 45;
    dns.b_bytes = 230;
    AddFlow(dns, t0 + 2 * kMs);

    FlowSpec ping;
    ping.kind = FlowKind::kIcmpEcho;
    ping.a = V4(10, 40, 0, 12);
    ping.b = V4(203, 0, 113, 9);
    ping.a_port = 7;
    ping.exchanges = 3;
    ping.interval_ns = 100 * kMs;
    ping.a_bytes = ping.b_bytes = kIcmpEchoData;
    ping.rtt_ns = 15 * kMs;
    AddFlow(ping, t0 + 3 * kMs);
    ping.v6 = true;
    ping.a = V6(kOutsideV6, 0, 0x9);
    ping.b = V6(kInsideV6, 0x40, 0x12);
    ping.exchanges = 2;
    AddFlow(ping, t0 + 4 * kMs);

    FlowSpec rst = web;
    rst.a = V4(203, 0, 113, 30);
    rst.a_port = 51000;
    rst.b = V4(10, 10, 0, 80);
    rst.b_port = 80;
    rst.vlan = 200;
    rst.a_bytes = 300;
    rst.b_bytes = 2000;
    rst.rst_close = true;
    rst.isn_a = 0xfffff000;
    rst.isn_b = 77;
    AddFlow(rst, t0 + 6 * kMs);

    FlowSpec probe;
    probe.syn_only = true;
    probe.a = V4(198, 51, 100, 66);
    probe.a_port = 61000;
    probe.b = V4(10, 10, 0, 22);
    probe.b_port = 22;
    probe.isn_a = 123456789;
    AddFlow(probe, t0 + 7 * kMs);
    return;
  }
  if (name == "edge-mix" || name == "demo") {
    if (name == "demo") {
      // The weights go back to where the data came from: the v6 download's /48.
      Transfer back;
      back.client = V6(kInsideV6, 0x30, 0x10);
      back.server = V6(kOutsideV6, 0, 0x88);
      back.first_port = 42000;
      back.total = Scaled(2'460'000'000.0);
      back.streams = 4;
      back.rate_bps = 10e9;
      AddTransfer(back, t0 + 3 * 24 * 3600 * kSec);
    }
    const std::uint64_t n = Scaled(3000);
    AddSpawner(SpawnKind::kBackground, t0, 60 * kSec / static_cast<std::int64_t>(n), n);
    Transfer up;
    up.client = V4(10, 30, 1, 10);
    up.server = V4(203, 0, 113, 10);
    up.total = Scaled(20e6);
    up.streams = 4;
    up.rate_bps = 1e9;
    up.retx_every = 500;
    AddTransfer(up, t0 + 5 * kSec);
    Transfer down;
    down.client = V6(kInsideV6, 0x30, 0x10);
    down.server = V6(kOutsideV6, 0, 0x20);
    down.upload = false;
    down.total = Scaled(30e6);
    down.streams = 2;
    down.rate_bps = 2e9;
    down.retx_every = 700;
    down.rst_last = true;
    AddTransfer(down, t0 + 20 * kSec);
    Transfer copy;
    copy.client = V4(10, 30, 3, 5);
    copy.server = V4(10, 20, 0, 5);
    copy.server_port = 873;
    copy.vlan = 20;
    copy.total = Scaled(10e6);
    copy.streams = 1;
    copy.rate_bps = 5e9;
    copy.rtt_ns = 200 * kUs;
    copy.retx_every = 0;
    AddTransfer(copy, t0 + 40 * kSec);
    return;
  }
  if (name == "bulk-upload") {
    AddSpawner(SpawnKind::kBackground, t0, 5 * kMs, Scaled(200));
    Transfer up;
    up.client = V4(10, 30, 1, 10);
    up.server = V4(203, 0, 113, 50);
    up.total = Scaled(1e9);
    up.streams = 8;
    up.rate_bps = 10e9;
    up.retx_every = 400;
    AddTransfer(up, t0 + 100 * kMs);
    return;
  }
  if (name == "ingest") {
    AddSpawner(SpawnKind::kBackground, t0, 5 * kMs, Scaled(500));
    const std::uint64_t total = Scaled(2e9);
    for (std::uint32_t h = 0; h < 8; ++h) {
      Transfer in;
      in.client = V4(10, 30, 2, static_cast<std::uint8_t>(10 + h % 4));
      in.server = V4(192, 0, 2, static_cast<std::uint8_t>(10 + h));
      in.first_port = static_cast<std::uint16_t>(41000 + 16 * h);
      in.upload = false;
      in.total = total / 8 + (h < total % 8 ? 1 : 0);
      in.streams = 8;
      in.rate_bps = 1.2e9;
      in.rtt_ns = 40 * kMs;
      in.retx_every = 1500;
      AddTransfer(in, t0 + static_cast<std::int64_t>(h) * 150 * kMs);
    }
    return;
  }
  if (name == "flood-upload") {
    AddSpawner(SpawnKind::kScan, t0, 10 * kUs, Scaled(300000));
    Transfer up;
    up.client = V4(10, 30, 1, 11);
    up.server = V4(203, 0, 113, 60);
    up.total = Scaled(1e9);
    up.streams = 4;
    up.rate_bps = 5e9;
    AddTransfer(up, t0 + 1 * kSec);
    return;
  }
  if (name == "flood-weights") {
    AddSpawner(SpawnKind::kScan, t0, 10 * kUs, Scaled(300000));
    Transfer up;
    up.client = V4(10, 30, 1, 12);
    up.server = V4(203, 0, 113, 61);
    up.total = Scaled(16'060'000'000.0);
    up.streams = 8;
    up.rate_bps = 10e9;
    up.retx_every = 2000;
    AddTransfer(up, t0 + 1 * kSec);
    return;
  }
  if (name == "bench-10m") {
    max_frames_ = 10'000'000;
    // Slow per-flow rates keep thousands of flows open at once.
    AddSpawner(SpawnKind::kBackground, t0, 50 * kUs, UINT64_MAX, 10);
    for (std::uint32_t i = 0; i < 4; ++i) {
      Transfer up;
      up.client = V4(10, 30, 1, static_cast<std::uint8_t>(20 + i));
      up.server = V4(203, 0, 113, static_cast<std::uint8_t>(100 + i));
      up.total = 4'000'000'000ULL;
      up.streams = 8;
      up.rate_bps = 1e9;
      up.retx_every = 1000;
      AddTransfer(up, t0 + static_cast<std::int64_t>(i) * 2 * kSec);
    }
    return;
  }
  if (name == "train-and-return") {
    Transfer in;
    in.client = V4(10, 30, 7, 10);
    in.server = V4(198, 51, 100, 20);
    in.upload = false;
    in.total = Scaled(2e9);
    in.streams = 8;
    in.rate_bps = 10e9;
    AddTransfer(in, t0 + 100 * kMs);
    Transfer out;
    out.client = V4(10, 30, 7, 10);
    out.server = V4(198, 51, 100, 30);
    out.first_port = 42000;
    out.total = Scaled(2'460'000'000.0);
    out.streams = 4;
    out.rate_bps = 10e9;
    AddTransfer(out, t0 + 3 * 24 * 3600 * kSec);
    return;
  }
  if (name == "v6-vlan-upload") {
    AddSpawner(SpawnKind::kBackground, t0, 5 * kMs, Scaled(200));
    Transfer up;
    up.client = V6(kInsideV6, 0x30, 0x77);
    up.server = V6(kOutsideV6, 0, 0x77);
    up.vlan = 30;
    up.total = Scaled(1.5e9);
    up.streams = 4;
    up.rate_bps = 10e9;
    up.retx_every = 700;
    AddTransfer(up, t0 + 100 * kMs);
    return;
  }
  if (name == "slow-upload-gap") {
    for (std::uint32_t half = 0; half < 2; ++half) {
      Transfer up;
      up.client = V4(10, 30, 8, 10);
      up.server = V4(203, 0, 113, 90);
      up.first_port = static_cast<std::uint16_t>(43000 + 100 * half);
      up.total = Scaled(600.0 * 1024 * 1024);
      up.streams = 2;
      up.rate_bps = 5e9;
      AddTransfer(up, t0 + static_cast<std::int64_t>(half) * 15 * 60 * kSec);
    }
    return;
  }
  if (name == "weights-16g") {
    AddSpawner(SpawnKind::kBackground, t0, 20 * kMs, Scaled(500));
    Transfer up;
    up.client = V4(10, 30, 5, 20);
    up.server = V4(203, 0, 113, 77);
    up.total = Scaled(16'060'000'000.0);
    up.streams = 8;
    up.rate_bps = 10e9;
    up.retx_every = 2000;
    AddTransfer(up, t0 + 200 * kMs);
    return;
  }
  if (name == "tunnel-vxlan") {
    for (std::uint32_t i = 0; i < 20; ++i) {
      FlowSpec s;
      s.vxlan = true;
      s.a = V4(10, 50, 0, static_cast<std::uint8_t>(10 + i));
      s.a_port = static_cast<std::uint16_t>(45000 + i);
      s.b = V4(203, 0, 113, static_cast<std::uint8_t>(201 + i % 5));
      s.b_port = 443;
      s.a_bytes = rng_.Range(200, 900);
      s.b_bytes = rng_.Range(2000, 60000);
      s.interval_ns = 50 * kUs;
      s.rtt_ns = 30 * kMs;
      s.isn_a = static_cast<std::uint32_t>(rng_.Next());
      s.isn_b = static_cast<std::uint32_t>(rng_.Next());
      AddFlow(s, t0 + static_cast<std::int64_t>(i) * 50 * kMs);
    }
    Transfer up;
    up.client = V4(10, 50, 1, 10);
    up.server = V4(203, 0, 113, 210);
    up.vxlan = true;
    up.total = Scaled(50e6);
    up.streams = 2;
    up.rate_bps = 2e9;
    up.retx_every = 800;
    AddTransfer(up, t0 + 100 * kMs);
    for (std::uint32_t i = 0; i < 10; ++i) {
      FlowSpec dns;
      dns.kind = FlowKind::kUdp;
      dns.a = V4(10, 40, 3, static_cast<std::uint8_t>(1 + i));
      dns.a_port = static_cast<std::uint16_t>(33000 + i);
      dns.b = V4(192, 0, 2, 53);
      dns.b_port = 53;
      dns.a_bytes = 40;
      dns.b_bytes = 150;
      dns.rtt_ns = 4 * kMs;
      AddFlow(dns, t0 + static_cast<std::int64_t>(i) * 77 * kMs);
    }
    return;
  }
}

// ---------------------------------------------------------------------------------------------
// Packet generation.

void SynthImpl::DataStep(Flow& f, Pkt* p, bool from_b) noexcept {
  const FlowSpec& s = f.spec;
  const std::uint64_t total = from_b ? s.b_bytes : s.a_bytes;
  std::uint64_t& sent = from_b ? f.b_sent : f.a_sent;
  const std::uint32_t base = (from_b ? s.isn_b : s.isn_a) + 1;
  const std::uint32_t peer_next =
      (from_b ? s.isn_a : s.isn_b) + 1 + static_cast<std::uint32_t>(from_b ? f.a_sent : f.b_sent);
  const std::uint32_t mss = s.v6 ? kMssV6 : kMssV4;
  const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(mss, total - sent));
  const bool last = sent + len == total;
  const bool retx = s.retx_every != 0 && (f.k + 1) % s.retx_every == 0;
  const bool ack_due = (f.k & 1) != 0 || last;
  const std::int64_t iv = s.interval_ns;
  auto advance = [&]() {
    sent += len;
    ++f.k;
    f.sub = 0;
    f.seg_t += iv;
    f.t = f.seg_t;
  };
  switch (f.sub) {
    case 0:
    case 1:
      p->from_b = from_b;
      p->tcp_flags = static_cast<std::uint8_t>(kTcpAck | (last ? kTcpPsh : 0));
      p->seq = base + static_cast<std::uint32_t>(sent);
      p->ack = peer_next;
      p->payload = len;
      p->unique_payload = f.sub == 0 ? len : 0;
      if (f.sub == 0 && retx) {
        f.sub = 1;
        f.t = f.seg_t + iv / 3;
      } else if (ack_due) {
        f.sub = 2;
        f.t = f.seg_t + 2 * iv / 3;
      } else {
        advance();
      }
      return;
    default:
      p->from_b = !from_b;
      p->tcp_flags = kTcpAck;
      p->seq = peer_next;
      p->ack = base + static_cast<std::uint32_t>(sent + len);
      advance();
      if (last) {
        f.k = 0;
        if (!from_b && s.b_bytes > 0) {
          f.phase = kDataB;
          // The response leaves one RTT after the request.
          f.seg_t = std::max(f.t, f.t - iv + s.rtt_ns);
          f.t = f.seg_t;
        } else {
          f.phase = s.rst_close ? kRst : kFinA;
        }
      }
      return;
  }
}

void SynthImpl::TcpStep(Flow& f, Pkt* p) noexcept {
  const FlowSpec& s = f.spec;
  const std::uint32_t a_next = s.isn_a + 1 + static_cast<std::uint32_t>(f.a_sent);
  const std::uint32_t b_next = s.isn_b + 1 + static_cast<std::uint32_t>(f.b_sent);
  switch (f.phase) {
    case kSyn:
      p->tcp_flags = kTcpSyn;
      p->syn_options = true;
      p->seq = s.isn_a;
      f.phase = s.syn_only ? kDone : kSynAck;
      f.t += s.rtt_ns;
      return;
    case kSynAck:
      p->from_b = true;
      p->tcp_flags = kTcpSyn | kTcpAck;
      p->syn_options = true;
      p->seq = s.isn_b;
      p->ack = s.isn_a + 1;
      f.phase = kHandshakeAck;
      f.t += 50 * kUs;
      return;
    case kHandshakeAck:
      p->tcp_flags = kTcpAck;
      p->seq = a_next;
      p->ack = b_next;
      f.phase = s.a_bytes > 0 ? kDataA : s.b_bytes > 0 ? kDataB : s.rst_close ? kRst : kFinA;
      f.t += 20 * kUs;
      f.seg_t = f.t;
      f.sub = 0;
      f.k = 0;
      return;
    case kDataA:
      DataStep(f, p, false);
      return;
    case kDataB:
      DataStep(f, p, true);
      return;
    case kFinA:
      p->tcp_flags = kTcpFin | kTcpAck;
      p->seq = a_next;
      p->ack = b_next;
      f.phase = kFinB;
      f.t += s.rtt_ns;
      return;
    case kFinB:
      p->from_b = true;
      p->tcp_flags = kTcpFin | kTcpAck;
      p->seq = b_next;
      p->ack = a_next + 1;
      f.phase = kLastAck;
      f.t += 50 * kUs;
      return;
    case kLastAck:
      p->tcp_flags = kTcpAck;
      p->seq = a_next + 1;
      p->ack = b_next + 1;
      f.phase = kDone;
      return;
    case kRst:
      p->tcp_flags = kTcpRst | kTcpAck;
      p->seq = a_next;
      p->ack = b_next;
      f.phase = kDone;
      return;
    case kExchange:
    case kDone:
      f.phase = kDone;
      return;
  }
}

// UDP request/response pairs and ICMP echo pairs: a sends, b answers one RTT later.
void SynthImpl::ExchangeStep(Flow& f, Pkt* p) noexcept {
  const FlowSpec& s = f.spec;
  const bool icmp = s.kind == FlowKind::kIcmpEcho;
  p->icmp_seq = static_cast<std::uint16_t>(f.k + 1);
  if (f.sub == 0) {
    p->payload = static_cast<std::uint32_t>(s.a_bytes);
    p->icmp_type = s.v6 ? 128 : 8;
    if (s.b_bytes > 0) {
      f.sub = 1;
      f.t += s.rtt_ns;
      p->unique_payload = icmp ? 0 : p->payload;
      return;
    }
  } else {
    p->from_b = true;
    p->payload = static_cast<std::uint32_t>(s.b_bytes);
    p->icmp_type = s.v6 ? 129 : 0;
  }
  p->unique_payload = icmp ? 0 : p->payload;
  f.sub = 0;
  ++f.k;
  if (f.k >= s.exchanges) {
    f.phase = kDone;
  } else {
    f.seg_t += s.interval_ns;
    f.t = std::max(f.t, f.seg_t);
  }
}

void SynthImpl::Step(Flow& f, Pkt* p) noexcept {
  if (f.spec.kind == FlowKind::kTcp) {
    TcpStep(f, p);
  } else {
    ExchangeStep(f, p);
  }
}

std::uint32_t SynthImpl::Build(const Flow& f, const Pkt& p, std::uint32_t* l3_len) noexcept {
  const FlowSpec& s = f.spec;
  const IpAddress& src = p.from_b ? s.b : s.a;
  const IpAddress& dst = p.from_b ? s.a : s.b;
  const std::uint16_t sport = p.from_b ? s.b_port : s.a_port;
  const std::uint16_t dport = p.from_b ? s.a_port : s.b_port;
  std::uint32_t l4_header = 8;
  std::uint8_t proto = kProtoUdp;
  if (s.kind == FlowKind::kTcp) {
    l4_header = p.syn_options ? kTcpSynHeader : kTcpHeader;
    proto = kProtoTcp;
  } else if (s.kind == FlowKind::kIcmpEcho) {
    proto = s.v6 ? kProtoIcmpv6 : kProtoIcmp;
  }
  const std::uint32_t ip_header = s.v6 ? 40 : 20;
  const std::uint32_t l4_len = l4_header + p.payload;
  const std::uint32_t l3 = ip_header + l4_len;
  const std::uint32_t l2 = 14 + (s.vlan != 0 ? 4 : 0);
  *l3_len = l3;

  std::uint8_t* w = buf_;
  // Locally administered MACs: one per side, so direction is visible at L2 too.
  auto put_macs = [&](std::uint8_t dst_last, std::uint8_t src_last) {
    static constexpr std::uint8_t kMac[5] = {0x02, 0x00, 0x5e, 0x10, 0x00};
    std::memcpy(w, kMac, 5);
    w[5] = dst_last;
    std::memcpy(w + 6, kMac, 5);
    w[11] = src_last;
  };
  if (s.vxlan) {
    // Outer Ethernet/IPv4/UDP/VXLAN; the outer UDP checksum is 0, as VXLAN over IPv4 allows.
    const bool out_to_in = p.from_b;  // b is the remote (outside) side of every tunnelled flow
    put_macs(out_to_in ? 0x02 : 0x01, out_to_in ? 0x01 : 0x02);
    StoreBe16(w + 12, 0x0800);
    std::uint8_t* ip = w + 14;
    const std::uint32_t inner = 14 + l3;
    ip[0] = 0x45;
    ip[1] = 0;
    StoreBe16(ip + 2, static_cast<std::uint16_t>(20 + 8 + 8 + inner));
    StoreBe16(ip + 4, static_cast<std::uint16_t>(f.ip_id + f.truth.a_to_b_packets +
                                                 f.truth.b_to_a_packets));
    StoreBe16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = kProtoUdp;
    StoreBe16(ip + 10, 0);
    std::memcpy(ip + 12, &(out_to_in ? kVtepOutside : kVtepInside).bytes[12], 4);
    std::memcpy(ip + 16, &(out_to_in ? kVtepInside : kVtepOutside).bytes[12], 4);
    StoreBe16(ip + 10, Fold(SumBytes(ip, 20, 0)));
    std::uint8_t* udp = ip + 20;
    // Source port from the inner flow, for ECMP entropy as RFC 7348 suggests.
    StoreBe16(udp, static_cast<std::uint16_t>(49152 + (f.id * 2654435761u) % 16384));
    StoreBe16(udp + 2, 4789);
    StoreBe16(udp + 4, static_cast<std::uint16_t>(8 + 8 + inner));
    StoreBe16(udp + 6, 0);
    std::uint8_t* vx = udp + 8;
    vx[0] = 0x08;
    vx[1] = vx[2] = vx[3] = 0;
    StoreBe32(vx + 4, 5001u << 8);  // VNI 5001
    w += kVxlanOuter;
  }
  put_macs(p.from_b ? 0x0a : 0x0b, p.from_b ? 0x0b : 0x0a);
  w += 12;
  if (s.vlan != 0) {
    StoreBe16(w, 0x8100);
    StoreBe16(w + 2, s.vlan);
    w += 4;
  }
  StoreBe16(w, s.v6 ? 0x86dd : 0x0800);
  w += 2;

  std::uint8_t* ip = w;
  std::uint32_t pseudo = 0;
  if (s.v6) {
    StoreBe32(ip, 0x60000000u | static_cast<std::uint32_t>(f.id & 0xfffff));
    StoreBe16(ip + 4, static_cast<std::uint16_t>(l4_len));
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src.bytes.data(), 16);
    std::memcpy(ip + 24, dst.bytes.data(), 16);
    pseudo = SumBytes(ip + 8, 32, 0) + l4_len + proto;
  } else {
    ip[0] = 0x45;
    ip[1] = 0;
    StoreBe16(ip + 2, static_cast<std::uint16_t>(l3));
    StoreBe16(ip + 4, static_cast<std::uint16_t>(f.ip_id + f.truth.a_to_b_packets +
                                                 f.truth.b_to_a_packets));
    StoreBe16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = proto;
    StoreBe16(ip + 10, 0);
    std::memcpy(ip + 12, &src.bytes[12], 4);
    std::memcpy(ip + 16, &dst.bytes[12], 4);
    StoreBe16(ip + 10, Fold(SumBytes(ip, 20, 0)));
    pseudo = SumBytes(ip + 12, 8, 0) + l4_len + proto;
  }
  std::uint8_t* l4 = ip + ip_header;
  // The payload is all zeros, so the checksums need only the pseudo-header and the header.
  if (s.kind == FlowKind::kTcp) {
    StoreBe16(l4, sport);
    StoreBe16(l4 + 2, dport);
    StoreBe32(l4 + 4, p.seq);
    StoreBe32(l4 + 8, (p.tcp_flags & kTcpAck) != 0 ? p.ack : 0);
    l4[12] = static_cast<std::uint8_t>((l4_header / 4) << 4);
    l4[13] = p.tcp_flags;
    StoreBe16(l4 + 14, p.syn_options ? 64240 : 501);
    StoreBe16(l4 + 16, 0);
    StoreBe16(l4 + 18, 0);
    const auto ms = static_cast<std::uint32_t>(f.t / kMs);
    const std::uint32_t ts_own = ms + (p.from_b ? s.isn_b : s.isn_a);
    const std::uint32_t ts_peer = ms + (p.from_b ? s.isn_a : s.isn_b);
    std::uint8_t* o = l4 + 20;
    if (p.syn_options) {
      o[0] = 2;  // MSS
      o[1] = 4;
      StoreBe16(o + 2, static_cast<std::uint16_t>(s.v6 ? kMssV6 + 12 : kMssV4 + 12));
      o[4] = 4;  // SACK permitted
      o[5] = 2;
      o[6] = 8;  // timestamps
      o[7] = 10;
      StoreBe32(o + 8, ts_own);
      StoreBe32(o + 12, p.from_b ? ts_peer : 0);
      o[16] = 1;  // NOP
      o[17] = 3;  // window scale 7
      o[18] = 3;
      o[19] = 7;
    } else {
      o[0] = 1;
      o[1] = 1;
      o[2] = 8;
      o[3] = 10;
      StoreBe32(o + 4, ts_own);
      StoreBe32(o + 8, ts_peer);
    }
    StoreBe16(l4 + 16, Fold(SumBytes(l4, l4_header, pseudo)));
  } else if (s.kind == FlowKind::kUdp) {
    StoreBe16(l4, sport);
    StoreBe16(l4 + 2, dport);
    StoreBe16(l4 + 4, static_cast<std::uint16_t>(l4_len));
    StoreBe16(l4 + 6, 0);
    const std::uint16_t c = Fold(SumBytes(l4, 8, pseudo));
    StoreBe16(l4 + 6, c == 0 ? 0xffff : c);
  } else {
    l4[0] = p.icmp_type;
    l4[1] = 0;
    StoreBe16(l4 + 2, 0);
    StoreBe16(l4 + 4, s.a_port);
    StoreBe16(l4 + 6, p.icmp_seq);
    StoreBe16(l4 + 2, Fold(SumBytes(l4, 8, s.v6 ? pseudo : 0)));
  }
  const auto header_end = static_cast<std::uint32_t>(l4 + l4_header - buf_);
  // Zero whatever a longer earlier header left behind, so payload and padding read as zeros.
  if (dirty_end_ > header_end) std::memset(buf_ + header_end, 0, dirty_end_ - header_end);
  dirty_end_ = header_end;
  const std::uint32_t frame = (s.vxlan ? kVxlanOuter : 0) + l2 + l3;
  return std::max(frame, kMinFrame);
}

void SynthImpl::Finish(std::uint32_t slot) {
  Flow& f = flows_[slot];
  if (f.truth.a_to_b_packets + f.truth.b_to_a_packets > 0) done_.emplace_back(f.id, f.truth);
  free_.push_back(slot);
}

void SynthImpl::Finalize() {
  if (finalized_) return;
  finalized_ = true;
  // Flows still open when a packet cap ended the scenario are in the truth as far as they got.
  for (const Event& e : heap_) {
    if (!e.spawner) Finish(e.index);
  }
  heap_.clear();
  std::sort(done_.begin(), done_.end(), [](const auto& x, const auto& y) {
    return x.second.first != y.second.first ? x.second.first < y.second.first : x.first < y.first;
  });
  truth_.reserve(done_.size());
  for (auto& d : done_) truth_.push_back(d.second);
  done_.clear();
  done_.shrink_to_fit();
}

bool SynthImpl::Next(StreamTime* ts, const std::uint8_t** data, std::uint32_t* caplen,
                     std::uint32_t* wire_len) noexcept {
  if (!ok()) return false;
  // Bounded: each spawner event either creates a flow or retires the spawner.
  while (!heap_.empty() && (max_frames_ == 0 || frames_ < max_frames_)) {
    std::pop_heap(heap_.begin(), heap_.end(), EventLater{});
    Event e = heap_.back();
    if (e.spawner) {
      heap_.pop_back();
      Spawner& sp = spawners_[e.index];
      if (sp.remaining == 0) continue;
      if (sp.kind == SpawnKind::kBackground) {
        SpawnBackground(sp);
      } else {
        SpawnScan(sp);
      }
      ++sp.made;
      if (sp.remaining != UINT64_MAX) --sp.remaining;
      sp.t +=
          static_cast<std::int64_t>(rng_.Range(0, 2 * static_cast<std::uint64_t>(sp.mean_gap_ns)));
      heap_.push_back(Event{sp.t, next_order_++, e.index, true});
      std::push_heap(heap_.begin(), heap_.end(), EventLater{});
      continue;
    }
    Flow& f = flows_[e.index];
    const std::int64_t t = f.t;
    Pkt p;
    Step(f, &p);
    std::uint32_t l3 = 0;
    const std::uint32_t wire = Build(f, p, &l3);
    const std::int64_t t_us = t - t % kUs;
    SynthTruthFlow& tr = f.truth;
    if (tr.a_to_b_packets + tr.b_to_a_packets == 0) tr.first = StreamTime::FromNanos(t_us);
    tr.last = StreamTime::FromNanos(t_us);
    if (p.from_b) {
      ++tr.b_to_a_packets;
      tr.b_to_a_bytes += l3;
      tr.b_to_a_payload_bytes += p.unique_payload;
    } else {
      ++tr.a_to_b_packets;
      tr.a_to_b_bytes += l3;
      tr.a_to_b_payload_bytes += p.unique_payload;
    }
    if (f.phase == kDone) {
      heap_.pop_back();
      Finish(e.index);
    } else {
      heap_.back().t = f.t;
      heap_.back().order = next_order_++;
      std::push_heap(heap_.begin(), heap_.end(), EventLater{});
    }
    ++frames_;
    *ts = StreamTime::FromNanos(t_us);
    *data = buf_;
    *wire_len = wire;
    *caplen = snaplen_ == 0 ? wire : std::min(wire, snaplen_);
    return true;
  }
  Finalize();
  return false;
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------

std::vector<SynthScenarioInfo> SynthScenarios() {
  std::vector<SynthScenarioInfo> out;
  for (const internal::ScenarioDef& d : internal::kScenarios)
    out.push_back({d.name, d.description});
  return out;
}

namespace {
void FormatTime(StreamTime t, char* out, std::size_t n) {
  const std::int64_t sec = t.ns >= 0 ? t.ns / kNanosPerSecond : (t.ns + 1) / kNanosPerSecond - 1;
  const std::int64_t us = (t.ns - sec * kNanosPerSecond) / kNanosPerMicro;
  const std::time_t tt = static_cast<std::time_t>(sec);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned>(us % 1000000));
}
}  // namespace

std::string SynthTruthJson(const SynthTruthFlow& f) {
  char first[96];
  char last[96];
  FormatTime(f.first, first, sizeof(first));
  FormatTime(f.last, last, sizeof(last));
  char line[768];
  std::snprintf(line, sizeof(line),
                "{\"proto\":%u,\"a\":\"%s\",\"a_port\":%u,\"b\":\"%s\",\"b_port\":%u,\"vlan\":%u,"
                "\"a_to_b_bytes\":%llu,\"b_to_a_bytes\":%llu,\"a_to_b_packets\":%llu,"
                "\"b_to_a_packets\":%llu,\"a_to_b_payload_bytes\":%llu,"
                "\"b_to_a_payload_bytes\":%llu,\"first\":\"%s\",\"last\":\"%s\"}",
                unsigned{f.proto}, f.a.ToString().c_str(), unsigned{f.a_port},
                f.b.ToString().c_str(), unsigned{f.b_port}, unsigned{f.vlan},
                static_cast<unsigned long long>(f.a_to_b_bytes),
                static_cast<unsigned long long>(f.b_to_a_bytes),
                static_cast<unsigned long long>(f.a_to_b_packets),
                static_cast<unsigned long long>(f.b_to_a_packets),
                static_cast<unsigned long long>(f.a_to_b_payload_bytes),
                static_cast<unsigned long long>(f.b_to_a_payload_bytes), first, last);
  return line;
}

SynthGenerator::SynthGenerator(const SynthOptions& options)
    : impl_(std::make_unique<internal::SynthImpl>(options)) {}
SynthGenerator::~SynthGenerator() = default;
bool SynthGenerator::ok() const {
  return impl_->ok();
}
const std::string& SynthGenerator::error() const {
  return impl_->error();
}
bool SynthGenerator::Next(StreamTime* ts, const std::uint8_t** data, std::uint32_t* caplen,
                          std::uint32_t* wire_len) noexcept {
  return impl_->Next(ts, data, caplen, wire_len);
}
const std::vector<SynthTruthFlow>& SynthGenerator::truth() const {
  return impl_->truth();
}
std::uint64_t SynthGenerator::frames_total() const {
  return impl_->frames_total();
}
std::uint64_t SynthGenerator::frames_done() const {
  return impl_->frames_done();
}

Status WriteSynthCapture(const SynthOptions& options, const std::string& pcap_path,
                         const std::string& truth_path) {
  SynthGenerator gen(options);
  if (!gen.ok()) return Status::Error(gen.error());
  internal::PcapWriter writer;
  if (Status st = writer.Open(pcap_path, options.snaplen); !st.ok()) return st;
  StreamTime ts;
  const std::uint8_t* data = nullptr;
  std::uint32_t caplen = 0;
  std::uint32_t wire = 0;
  while (gen.Next(&ts, &data, &caplen, &wire)) writer.Record(ts, data, caplen, wire);
  if (Status st = writer.Close(pcap_path); !st.ok()) return st;
  if (truth_path.empty()) return Status::Ok();
  std::FILE* f = std::fopen(truth_path.c_str(), "wb");
  if (f == nullptr) return Status::Error(truth_path + ": cannot create: " + std::strerror(errno));
  std::vector<char> buf(1u << 20);
  std::setvbuf(f, buf.data(), _IOFBF, buf.size());
  bool ok = true;
  for (const SynthTruthFlow& flow : gen.truth()) {
    const std::string line = SynthTruthJson(flow);
    ok = ok && std::fwrite(line.data(), 1, line.size(), f) == line.size() &&
         std::fputc('\n', f) != EOF;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Status::Error(truth_path + ": write failed: " + std::strerror(errno));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------

namespace {
class SynthSource final : public PacketSource {
 public:
  SynthSource(const SynthOptions& options, const DecodeOptions& decode, const SiteClassifier* site)
      : gen_(options), decoder_(decode, site), name_("synth:" + options.scenario) {}

  PollResult Poll(std::span<PacketMeta> out) override {
    PollResult r;
    StreamTime ts;
    const std::uint8_t* data = nullptr;
    std::uint32_t caplen = 0;
    std::uint32_t wire = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (stop_ || !gen_.Next(&ts, &data, &caplen, &wire)) {
        r.state = PollResult::State::kEnd;
        return r;
      }
      if (decoder_.Decode(kLinkEthernet, data, caplen, wire, ts, &out[r.packets]) ==
          DecodeResult::kOk) {
        ++r.packets;
      }
    }
    return r;
  }
  void Stop() override { stop_ = true; }
  SourceStats Stats() const override {
    SourceStats s;
    s.received = gen_.frames_done();
    return s;
  }
  const Decoder& decoder() const override { return decoder_; }
  std::string Name() const override { return name_; }
  const SynthGenerator& generator() const { return gen_; }

 private:
  SynthGenerator gen_;
  Decoder decoder_;
  std::string name_;
  std::atomic<bool> stop_{false};
};
}  // namespace

Result<std::unique_ptr<PacketSource>> OpenSynth(const SynthOptions& options,
                                                const DecodeOptions& decode,
                                                const SiteClassifier* site) {
  auto source = std::make_unique<SynthSource>(options, decode, site);
  if (!source->generator().ok()) return Status::Error(source->generator().error());
  return std::unique_ptr<PacketSource>(std::move(source));
}

}  // namespace weighbridge::capture
