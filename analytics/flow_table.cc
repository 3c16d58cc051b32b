#include "weighbridge/analytics/flow_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "weighbridge/core/hash.h"

namespace weighbridge::analytics {

namespace {

// Sweeping the whole table once per kSweepPeriodNs of stream time finds idle flows at most that
// late, at a cost proportional to stream time and table size, not to packets.
constexpr std::int64_t kSweepPeriodNs = kSweepPeriodSeconds * kNanosPerSecond;
// How far past its home slot an insert looks for the smallest flow to evict when the table is full.
constexpr std::size_t kEvictWindow = 16;
// Packets ahead whose slots are prefetched: enough to cover a DRAM miss at ~20 ns per packet.
constexpr std::size_t kPrefetchAhead = 8;
// Per-slot deltas are 32-bit to keep a slot small; an update is emitted before one could wrap.
constexpr std::uint32_t kDeltaLimit = 0xC0000000u;

inline std::uint64_t EndpointHash(const IpAddress& a, std::uint16_t port) {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  // The port is spread over all 64 bits before it meets the address: XORing it into the bits
  // that hold the IPv4 address let addresses and ports that count up together (a scan, a
  // benchmark) cancel out and pile onto a few slots.
  return Mix64(Mix64(lo) ^ hi ^ (std::uint64_t{port} * 0x9e3779b97f4a7c15ULL));
}

inline std::uint64_t KeyHash(const IpAddress& a, std::uint16_t a_port, const IpAddress& b,
                             std::uint16_t b_port, std::uint8_t proto, std::uint16_t vlan) {
  // Adding the two endpoint hashes is commutative, so both directions hash alike.
  return Mix64((EndpointHash(a, a_port) + EndpointHash(b, b_port)) ^ (std::uint64_t{proto} << 16) ^
               vlan);
}

// Slot state bits.
constexpr std::uint8_t kUsed = 1 << 0;
constexpr std::uint8_t kFinAb = 1 << 1;
constexpr std::uint8_t kFinBa = 1 << 2;
constexpr std::uint8_t kClosing = 1 << 3;
constexpr std::uint8_t kTcpStartedAb = 1 << 4;
constexpr std::uint8_t kTcpStartedBa = 1 << 5;
constexpr std::uint8_t kReported = 1 << 6;  // an update went out (for a flow still running:
                                            // a long-lived one, which eviction spares)
constexpr std::uint8_t kSampled = 1 << 7;   // weighted packets: counts are estimates (Slot::tail)

// The last 24 bytes of a slot. A flow seen whole follows TCP sequence numbers for its unique
// payload; a sampled flow's packets stand for many never seen, so it keeps instead what the
// error of its estimate needs, since the last update (SampleStats, per direction).
struct TcpTails {
  TcpPayloadTracker ab;
  TcpPayloadTracker ba;
};
struct SampledTails {
  double variance_ab;
  double variance_ba;
  std::uint32_t samples_ab;
  std::uint32_t samples_ba;
};
union SlotTail {
  TcpTails tcp{};  // active from StartFlow until the flow's first weighted packet
  SampledTails sampled;
};
static_assert(sizeof(SlotTail) == 24);

}  // namespace

const char* FlowEndReasonName(FlowEndReason r) {
  switch (r) {
    case FlowEndReason::kActive:
      return "active";
    case FlowEndReason::kIdle:
      return "idle";
    case FlowEndReason::kClosed:
      return "closed";
    case FlowEndReason::kEvicted:
      return "evicted";
    case FlowEndReason::kFlushed:
      return "flushed";
  }
  return "unknown";
}

std::uint64_t SymmetricFlowHash(const capture::PacketMeta& m) noexcept {
  return KeyHash(m.src, m.src_port, m.dst, m.dst_port, m.proto, m.vlan);
}

// One flow: 112 bytes, laid out by hand so that nothing is padding. Memory per tracked flow is a
// budget (at most 128 bytes at the table's maximum load), so counters here are deltas since the
// last update, 32 bits wide, and an update goes out before one could wrap.
struct FlowTable::Slot {
  IpAddress a;  // the endpoint that sent the first packet seen
  IpAddress b;
  std::uint16_t a_port;
  std::uint16_t b_port;
  std::uint16_t vlan;
  std::uint8_t proto;
  capture::Direction direction;  // of the first packet
  std::uint32_t hash32;          // low 32 bits of the flow hash: home slot and a cheap filter
  std::uint16_t tenant;
  std::uint8_t tcp_flags;  // OR of flags since the last update
  std::uint8_t state;      // kUsed, kFin*, kClosing, kTcpStarted*, kReported
  std::int64_t first_ns;
  std::int64_t last_ns;
  std::uint32_t packets_ab;
  std::uint32_t packets_ba;
  std::uint32_t l3_bytes_ab;
  std::uint32_t l3_bytes_ba;
  std::uint32_t payload_ab;
  std::uint32_t payload_ba;
  SlotTail tail;  // .sampled when state has kSampled, else .tcp

  bool used() const { return (state & kUsed) != 0; }
  bool closing() const { return (state & kClosing) != 0; }
};
static_assert(sizeof(IpAddress) == 16);

std::size_t FlowTable::BytesPerSlot() {
  return sizeof(Slot);
}
std::size_t FlowTable::slot_count() const {
  return slot_count_;
}

FlowTable::FlowTable(const PipelineOptions& options, std::uint64_t capacity, FlowSink* sink)
    : options_(options), sink_(sink) {
  static_assert(sizeof(Slot) == 112, "flow slot layout changed: check the memory budget");
  const std::uint64_t want = capacity < 16 ? 16 : capacity;
  // At most 7/8 full: linear probing stays short, and 112 * 8/7 = 128 bytes per flow.
  slot_count_ = static_cast<std::size_t>(want + want / 7 + 1);
  // An all-zero Slot is an empty one (state 0), so fresh anonymous memory is an empty table.
  static_assert(std::is_trivially_copyable_v<Slot>);
  constexpr std::size_t kHugePage = 2u << 20;
  mapped_bytes_ = (slot_count_ * sizeof(Slot) + kHugePage - 1) / kHugePage * kHugePage;
  void* p =
      mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();  // at startup only: sized from the config
  madvise(p, mapped_bytes_, MADV_HUGEPAGE);     // advice: fine if the kernel says no
  slots_ = static_cast<Slot*>(p);
  max_size_ = static_cast<std::size_t>(want);
  used_bits_.assign((slot_count_ + 63) / 64, 0);
}

FlowTable::~FlowTable() {
  munmap(slots_, mapped_bytes_);
}

std::size_t FlowTable::Home(std::uint32_t hash32) const noexcept {
  // Multiply-shift maps the hash onto [0, slots) without a division or a power-of-two size.
  return static_cast<std::size_t>((std::uint64_t{hash32} * slot_count_) >> 32);
}

std::size_t FlowTable::Probe(const capture::PacketMeta& m, std::uint32_t hash32,
                             bool* found) noexcept {
  std::size_t i = Home(hash32);
  const std::size_t n = slot_count_;
  for (;;) {
    const Slot& s = slots_[i];
    if (!s.used()) {
      *found = false;
      return i;
    }
    if (s.hash32 == hash32 && s.proto == m.proto && s.vlan == m.vlan &&
        ((s.a == m.src && s.b == m.dst && s.a_port == m.src_port && s.b_port == m.dst_port) ||
         (s.a == m.dst && s.b == m.src && s.a_port == m.dst_port && s.b_port == m.src_port))) {
      *found = true;
      return i;
    }
    if (++i == n) i = 0;
  }
}

void FlowTable::StartFlow(Slot& s, const capture::PacketMeta& m, std::uint32_t hash32) noexcept {
  s = Slot{};
  s.state = kUsed;
  s.hash32 = hash32;
  s.a = m.src;
  s.b = m.dst;
  s.a_port = m.src_port;
  s.b_port = m.dst_port;
  s.vlan = m.vlan;
  s.proto = m.proto;
  s.first_ns = m.ts.ns;
  s.last_ns = m.ts.ns;
  LowerExpiry(m.ts.ns + options_.idle_timeout_ns);
  s.direction = m.direction;
  s.tenant = m.tenant;
  if (options_.site != nullptr) options_.site->Classify(m.src, m.dst, &s.direction, &s.tenant);
  ++size_;
  counters_.flows_created.Add(1);
  counters_.active_flows.Set(size_);
}

StreamTime FlowTable::EndTime(const Slot& s) const noexcept {
  return StreamTime::FromNanos(s.last_ns +
                               (s.closing() ? options_.close_linger_ns : options_.idle_timeout_ns));
}

bool FlowTable::Expired(const Slot& s, StreamTime now) const noexcept {
  const std::int64_t quiet = now.ns - s.last_ns;
  return quiet >= (s.closing() ? options_.close_linger_ns : options_.idle_timeout_ns);
}

void FlowTable::AccountBurst(std::span<capture::PacketMeta> burst) noexcept {
  for (capture::PacketMeta& m : burst) {
    if (m.flow_hash == 0) m.flow_hash = static_cast<std::uint32_t>(SymmetricFlowHash(m));
  }
  const std::size_t n = burst.size();
  for (std::size_t i = 0; i < n && i < kPrefetchAhead; ++i) Prefetch(burst[i].flow_hash);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) Prefetch(burst[i + kPrefetchAhead].flow_hash);
    if ((burst[i].flags & capture::kMetaWatermark) == 0) Account(burst[i]);
  }
}

void FlowTable::Prefetch(std::uint32_t hash32) const noexcept {
  // A slot is 112 bytes: it may straddle two cache lines, and the probe often reads the next.
  const char* p = reinterpret_cast<const char*>(&slots_[Home(hash32)]);
  __builtin_prefetch(p);
  __builtin_prefetch(p + kCacheLine);
}

void FlowTable::Account(const capture::PacketMeta& m) noexcept {
  const std::uint32_t hash32 =
      m.flow_hash != 0 ? m.flow_hash : static_cast<std::uint32_t>(SymmetricFlowHash(m));
  bool found = false;
  std::size_t i = Probe(m, hash32, &found);
  if (found) {
    Slot& s = slots_[i];
    // Whether a packet starts a new flow, and when a running flow is reported, are decided here
    // from packet times alone, never by when the sweep reaches the slot: so results do not
    // depend on table size or on the number of workers.
    const bool reused = s.closing() && (m.tcp_flags & (capture::kTcpSyn | capture::kTcpAck)) ==
                                           capture::kTcpSyn;  // a new connection on a closed tuple
    if (reused || Expired(s, m.ts)) {
      Emit(s, s.closing() ? FlowEndReason::kClosed : FlowEndReason::kIdle,
           reused && !Expired(s, m.ts) ? m.ts : EndTime(s));
      Remove(i);
      counters_.flows_ended.Add(1);
      i = Probe(m, hash32, &found);
    } else if (options_.active_timeout_ns > 0 &&
               m.ts.ns - s.first_ns >= options_.active_timeout_ns &&  // skips the divisions
               (m.ts.ns - s.first_ns) / options_.active_timeout_ns >  // for young flows
                   (s.last_ns - s.first_ns) / options_.active_timeout_ns) {
      Emit(s, FlowEndReason::kActive, m.ts);  // the packet crossed an active-timeout boundary
    }
  }
  if (!found) {
    if (size_ >= max_size_) {
      EvictFor(Home(hash32), m.ts);
      i = Probe(m, hash32, &found);
    }
    StartFlow(slots_[i], m, hash32);
    used_bits_[i >> 6] |= std::uint64_t{1} << (i & 63);
  }
  Slot& s = slots_[i];
  const bool a_to_b = s.a == m.src && s.a_port == m.src_port;  // a flow to itself: all a -> b
  const std::uint64_t w = m.sample_weight;
  if (w > 1 && (s.state & kSampled) == 0) {
    // From its first weighted packet on, the flow is an estimate: sequence numbers are no longer
    // followed, and its tail keeps the sampling error instead.
    s.state = static_cast<std::uint8_t>((s.state & ~(kTcpStartedAb | kTcpStartedBa)) | kSampled);
    s.tail.sampled = SampledTails{};
  }
  const bool sampled = (s.state & kSampled) != 0;
  std::uint64_t payload = m.payload_bytes;
  if (m.proto == 6 && (m.flags & capture::kMetaLaterFragment) == 0) {
    // TCP: unique payload from sequence numbers. (A later fragment's bytes are payload its first
    // fragment's header announced: counted as they are.)
    // A sampled packet (weight > 1) stands for many whose sequence numbers were never seen:
    // its payload is what its headers say, scaled like its bytes.
    if (!sampled) {
      const std::uint32_t seq = (m.tcp_flags & capture::kTcpSyn) != 0 ? m.tcp_seq + 1 : m.tcp_seq;
      bool started = (s.state & (a_to_b ? kTcpStartedAb : kTcpStartedBa)) != 0;
      payload = (a_to_b ? s.tail.tcp.ab : s.tail.tcp.ba).Add(seq, m.payload_bytes, &started);
      s.state |= a_to_b ? kTcpStartedAb : kTcpStartedBa;
    }
    s.tcp_flags |= m.tcp_flags;
    if ((m.tcp_flags & capture::kTcpFin) != 0) s.state |= a_to_b ? kFinAb : kFinBa;
    if ((m.tcp_flags & capture::kTcpRst) != 0 ||
        (s.state & (kFinAb | kFinBa)) == (kFinAb | kFinBa)) {
      s.state |= kClosing;
      LowerExpiry(m.ts.ns + options_.close_linger_ns);
    }
  }
  DirectionCounters add{w, std::uint64_t{m.l3_bytes} * w, payload * w, {}};
  if (sampled) {
    // This packet's share of the estimate's variance: N (N - 1) b^2 (SampleStats).
    const double b = static_cast<double>(payload);
    add.sampling = {1, static_cast<double>(w) * static_cast<double>(w - 1) * b * b};
  }
  std::uint32_t& packets = a_to_b ? s.packets_ab : s.packets_ba;
  std::uint32_t& bytes = a_to_b ? s.l3_bytes_ab : s.l3_bytes_ba;
  std::uint32_t& pay = a_to_b ? s.payload_ab : s.payload_ba;
  if (packets + add.packets >= kDeltaLimit || bytes + add.l3_bytes >= kDeltaLimit ||
      pay + add.payload_bytes >= kDeltaLimit) {
    Emit(s, FlowEndReason::kActive, m.ts);  // the 32-bit deltas would wrap: send them out first
  }
  if (add.packets >= kDeltaLimit || add.l3_bytes >= kDeltaLimit ||
      add.payload_bytes >= kDeltaLimit) {
    EmitPacket(s, a_to_b, add, m.ts);  // one heavily weighted packet is too big for a slot's deltas
  } else {
    packets += static_cast<std::uint32_t>(add.packets);
    bytes += static_cast<std::uint32_t>(add.l3_bytes);
    pay += static_cast<std::uint32_t>(add.payload_bytes);
    if (sampled) {  // samples <= packets, so these deltas cannot wrap first
      SampledTails& t = s.tail.sampled;
      (a_to_b ? t.samples_ab : t.samples_ba) += 1;
      (a_to_b ? t.variance_ab : t.variance_ba) += add.sampling.payload_variance;
    }
  }
  const auto dir = static_cast<std::size_t>(a_to_b ? s.direction : capture::Reverse(s.direction));
  counters_.direction_packets[dir].Add(add.packets);
  counters_.direction_l3_bytes[dir].Add(add.l3_bytes);
  if (s.last_ns < m.ts.ns) s.last_ns = m.ts.ns;
  // A capture merged from several interfaces can go back in time a little. `first` is the
  // earliest packet; it is frozen once an update has gone out, since the flow id derives from it.
  if (m.ts.ns < s.first_ns && (s.state & kReported) == 0) s.first_ns = m.ts.ns;
  counters_.packets.Add(1);
}

void FlowTable::AdvanceTo(StreamTime now) noexcept {
  if (swept_to_.ns == 0) swept_to_ = now;
  if (now <= swept_to_) return;
  // Slots to visit: slots * elapsed / period, with the remainder carried to the next call, so
  // every slot is visited at least once per period of stream time however small the steps.
  // Counted in microseconds: elapsed is capped at a period (< 2^23 us) and slots < 2^40, so the
  // product fits in 64 bits.
  constexpr std::uint64_t kPeriodUs = kSweepPeriodNs / kNanosPerMicro;
  const std::uint64_t elapsed_us =
      static_cast<std::uint64_t>(std::min(now.ns - swept_to_.ns, kSweepPeriodNs) / kNanosPerMicro);
  if (elapsed_us == 0) return;  // less than a microsecond: wait (swept_to_ stays behind)
  swept_to_ = now;
  if (now.ns < next_expiry_ns_) {  // no deadline reached yet: nothing to find
    sweep_debt_ = 0;
    return;
  }
  sweep_debt_ += static_cast<std::uint64_t>(slot_count_) * elapsed_us;
  const std::size_t budget =
      static_cast<std::size_t>(std::min<std::uint64_t>(sweep_debt_ / kPeriodUs, slot_count_));
  sweep_debt_ = budget == slot_count_ ? 0 : sweep_debt_ % kPeriodUs;
  // A full sweep learns the earliest deadline left; a partial one cannot.
  const bool full = budget == slot_count_;
  std::int64_t earliest = INT64_MAX;
  for (std::size_t visited = 0; visited < budget;) {
    if ((sweep_cursor_ & 63) == 0 && used_bits_[sweep_cursor_ >> 6] == 0) {
      // 64 empty slots (or fewer at the end of the table): nothing to expire there.
      const std::size_t skip = std::min<std::size_t>(64, slot_count_ - sweep_cursor_);
      visited += skip;
      sweep_cursor_ += skip;
      if (sweep_cursor_ == slot_count_) sweep_cursor_ = 0;
      continue;
    }
    Slot& s = slots_[sweep_cursor_];
    if (s.used() && Expired(s, now)) {
      Emit(s, s.closing() ? FlowEndReason::kClosed : FlowEndReason::kIdle, EndTime(s));
      Remove(sweep_cursor_);
      counters_.flows_ended.Add(1);
      continue;  // backward shift may have moved another flow into this slot: look again
    }
    if (s.used()) earliest = std::min(earliest, EndTime(s).ns);
    ++visited;
    if (++sweep_cursor_ == slot_count_) sweep_cursor_ = 0;
  }
  next_expiry_ns_ = full ? earliest : INT64_MIN;
}

void FlowTable::FlushAll() noexcept {
  for (std::size_t i = 0; i < slot_count_; ++i) {
    Slot& s = slots_[i];
    if (!s.used()) continue;
    // Event time: when the flow would have ended on its own (idle timeout, or close linger).
    // That is never behind the watermarks this shard has sent (a flow still here has not been
    // swept past its deadline, and the watermark lags by more than a sweep period), so flushed
    // updates merge in order like every other; `last` would make most of them late, and late
    // updates reach the sessionizer in thread-timing order.
    Emit(s, FlowEndReason::kFlushed, EndTime(s));
    s.state = 0;
    counters_.flows_ended.Add(1);
  }
  size_ = 0;
  std::fill(used_bits_.begin(), used_bits_.end(), 0);
  counters_.active_flows.Set(0);
}

std::uint64_t FlowTable::FlowId(const Slot& s) noexcept {
  // Same flow, same id, whatever the number of shards: derived from what the flow is.
  return Mix64(KeyHash(s.a, s.a_port, s.b, s.b_port, s.proto, s.vlan) ^
               Mix64(static_cast<std::uint64_t>(s.first_ns)));
}

void FlowTable::Emit(Slot& s, FlowEndReason reason, StreamTime at) noexcept {
  FlowUpdate u;
  u.key = FlowKey{s.a, s.b, s.a_port, s.b_port, s.vlan, s.proto};
  u.flow_id = FlowId(s);
  u.first = StreamTime::FromNanos(s.first_ns);
  u.last = StreamTime::FromNanos(s.last_ns);
  u.a_to_b = DirectionCounters{s.packets_ab, s.l3_bytes_ab, s.payload_ab, {}};
  u.b_to_a = DirectionCounters{s.packets_ba, s.l3_bytes_ba, s.payload_ba, {}};
  if ((s.state & kSampled) != 0) {
    SampledTails& t = s.tail.sampled;
    u.a_to_b.sampling = {t.samples_ab, t.variance_ab};
    u.b_to_a.sampling = {t.samples_ba, t.variance_ba};
    t = SampledTails{};
  }
  u.tcp_flags = s.tcp_flags;
  u.direction = s.direction;
  u.tenant = s.tenant;
  u.reason = reason;
  u.at = at;
  u.first_update = (s.state & kReported) == 0;
  s.packets_ab = s.packets_ba = 0;
  s.l3_bytes_ab = s.l3_bytes_ba = 0;
  s.payload_ab = s.payload_ba = 0;
  s.tcp_flags = 0;
  s.state |= kReported;  // the flow id is out: `first` may no longer move
  if (sink_ != nullptr) sink_->OnFlowUpdate(u);
}

void FlowTable::EmitPacket(Slot& s, bool a_to_b, const DirectionCounters& add,
                           StreamTime at) noexcept {
  const std::int64_t last = s.last_ns;
  Emit(s, FlowEndReason::kActive, at);  // whatever the slot held, then the packet on its own
  FlowUpdate u;
  u.key = FlowKey{s.a, s.b, s.a_port, s.b_port, s.vlan, s.proto};
  u.flow_id = FlowId(s);
  u.first = StreamTime::FromNanos(s.first_ns);
  u.last = StreamTime::FromNanos(last);
  (a_to_b ? u.a_to_b : u.b_to_a) = add;
  u.direction = s.direction;
  u.tenant = s.tenant;
  u.reason = FlowEndReason::kActive;
  u.at = at;
  u.first_update = false;  // Emit() above went first
  if (sink_ != nullptr) sink_->OnFlowUpdate(u);
}

// Backward-shift deletion: no tombstones, so probe chains stay short under churn.
void FlowTable::Remove(std::size_t index) noexcept {
  const std::size_t n = slot_count_;
  std::size_t hole = index;
  std::size_t j = index;
  for (;;) {
    if (++j == n) j = 0;
    Slot& s = slots_[j];
    if (!s.used()) break;
    const std::size_t home = Home(s.hash32);
    // Move s into the hole unless its home lies cyclically in (hole, j].
    const bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_between) {
      slots_[hole] = s;
      used_bits_[hole >> 6] |= std::uint64_t{1} << (hole & 63);
      hole = j;
    }
  }
  slots_[hole].state = 0;
  used_bits_[hole >> 6] &= ~(std::uint64_t{1} << (hole & 63));
  --size_;
  counters_.active_flows.Set(size_);
}

void FlowTable::EvictFor(std::size_t home, StreamTime at) noexcept {
  // Evict the flow with the fewest bytes since its last update near the new flow's home slot,
  // never one that has already been reported as long-running unless all nearby have: a flood of
  // small flows evicts its own kind, and a bulk transfer keeps its slot; among equally small
  // flows, the one silent longest (so a new connection outlives the flood's probes around it
  // long enough to get its reply). The evicted flow's
  // counts are emitted, so no byte is lost — only the flow may be split in two.
  const std::size_t n = slot_count_;
  std::size_t victim = n;
  std::uint64_t least = ~std::uint64_t{0};
  std::int64_t least_last_ns = std::numeric_limits<std::int64_t>::max();
  for (std::size_t k = 0, i = home; k < kEvictWindow; ++k) {
    const Slot& s = slots_[i];
    if (s.used()) {
      const std::uint64_t score = std::uint64_t{s.l3_bytes_ab} + s.l3_bytes_ba +
                                  ((s.state & kReported) != 0 ? (std::uint64_t{1} << 40) : 0);
      // Among equals (a flood's one-packet flows all weigh the same) the one silent longest goes:
      // a connection that sent its SYN a moment ago looks like a scan probe until its SYN-ACK,
      // and must live long enough to get it.
      if (score < least || (score == least && s.last_ns < least_last_ns)) {
        least = score;
        least_last_ns = s.last_ns;
        victim = i;
      }
    }
    if (++i == n) i = 0;
  }
  if (victim == n) {  // nothing near home (cannot happen when full; be safe)
    for (std::size_t i = 0; i < n; ++i) {
      if (slots_[i].used()) {
        victim = i;
        break;
      }
    }
  }
  Emit(slots_[victim], FlowEndReason::kEvicted, at);
  Remove(victim);
  counters_.evictions.Add(1);
}

}  // namespace weighbridge::analytics
