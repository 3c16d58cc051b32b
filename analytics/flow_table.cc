#include "weighbridge/analytics/flow_table.h"

#include <bit>
#include <cstring>

namespace weighbridge::analytics {

namespace {

// Sweeping the whole table once per second of stream time keeps timeouts late by at most a
// second, at a cost proportional to stream time, not to packets.
constexpr std::int64_t kSweepPeriodNs = kNanosPerSecond;
// How far past its home slot an insert looks for the smallest flow to evict when the table is full.
constexpr std::size_t kEvictWindow = 16;

inline std::uint64_t Mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t EndpointHash(const IpAddress& a, std::uint16_t port) {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return Mix64(hi ^ Mix64(lo ^ (std::uint64_t{port} << 48)));
}

}  // namespace

const char* FlowEndReasonName(FlowEndReason r) {
  switch (r) {
    case FlowEndReason::kActive: return "active";
    case FlowEndReason::kIdle: return "idle";
    case FlowEndReason::kClosed: return "closed";
    case FlowEndReason::kEvicted: return "evicted";
    case FlowEndReason::kFlushed: return "flushed";
  }
  return "unknown";
}

std::uint64_t SymmetricFlowHash(const capture::PacketMeta& meta) noexcept {
  // Adding the two endpoint hashes is commutative, so both directions hash alike.
  const std::uint64_t ends = EndpointHash(meta.src, meta.src_port) + EndpointHash(meta.dst, meta.dst_port);
  return Mix64(ends ^ (std::uint64_t{meta.proto} << 16) ^ meta.vlan);
}

struct FlowTable::Slot {
  FlowKey key;
  std::uint64_t hash = 0;
  std::uint64_t flow_id = 0;
  StreamTime first;
  StreamTime last;
  StreamTime last_report;
  DirectionCounters ab;  // since the last update emitted
  DirectionCounters ba;
  std::uint64_t total_l3_bytes = 0;  // whole life, both ways: decides who is evicted
  TcpPayloadTracker tcp_ab;
  TcpPayloadTracker tcp_ba;
  capture::Direction direction = capture::Direction::kTransit;
  std::uint16_t tenant = 0;
  std::uint8_t flags_seen = 0;
  bool fin_ab = false;
  bool fin_ba = false;
  bool closing = false;
  bool used = false;
};

std::size_t FlowTable::BytesPerSlot() { return sizeof(Slot); }
std::size_t FlowTable::slot_count() const { return slots_.size(); }

FlowTable::FlowTable(const PipelineOptions& options, std::uint64_t capacity, FlowSink* sink)
    : options_(options), sink_(sink) {
  const std::uint64_t want = capacity < 16 ? 16 : capacity;
  const std::size_t slots = std::bit_ceil(static_cast<std::size_t>(want + want / 4));
  slots_.resize(slots);
  mask_ = slots - 1;
  max_size_ = static_cast<std::size_t>(want);
}

FlowTable::~FlowTable() = default;

std::size_t FlowTable::Probe(const capture::PacketMeta& m, std::uint64_t hash, bool* found) noexcept {
  std::size_t i = hash & mask_;
  for (;;) {
    const Slot& s = slots_[i];
    if (!s.used) {
      *found = false;
      return i;
    }
    if (s.hash == hash && s.key.proto == m.proto && s.key.vlan == m.vlan &&
        ((s.key.a == m.src && s.key.b == m.dst && s.key.a_port == m.src_port &&
          s.key.b_port == m.dst_port) ||
         (s.key.a == m.dst && s.key.b == m.src && s.key.a_port == m.dst_port &&
          s.key.b_port == m.src_port))) {
      *found = true;
      return i;
    }
    i = (i + 1) & mask_;
  }
}

void FlowTable::StartFlow(Slot& s, const capture::PacketMeta& m, std::uint64_t hash) noexcept {
  s = Slot{};
  s.used = true;
  s.hash = hash;
  s.key = FlowKey{m.src, m.dst, m.src_port, m.dst_port, m.vlan, m.proto};
  s.first = m.ts;
  s.last = m.ts;
  s.last_report = m.ts;
  s.direction = m.direction;
  s.tenant = m.tenant;
  // Same flow, same id, whatever the number of shards: derived from what the flow is.
  s.flow_id = Mix64(hash ^ Mix64(static_cast<std::uint64_t>(m.ts.ns)));
  ++size_;
  counters_.flows_created.Add(1);
  counters_.active_flows.Set(size_);
}

void FlowTable::Account(const capture::PacketMeta& m) noexcept {
  const std::uint64_t hash = SymmetricFlowHash(m);
  bool found = false;
  std::size_t i = Probe(m, hash, &found);
  if (found) {
    const Slot& s = slots_[i];
    // Whether a packet starts a new flow is decided here, from packet times alone, not by when
    // the sweep reaches the slot: so the answer does not depend on table size or worker count.
    const bool reused = s.closing && (m.tcp_flags & (capture::kTcpSyn | capture::kTcpAck)) ==
                                         capture::kTcpSyn;  // a new connection on a closed tuple
    if (reused || Expired(s, m.ts)) {
      Emit(slots_[i], s.closing ? FlowEndReason::kClosed : FlowEndReason::kIdle);
      Remove(i);
      counters_.flows_ended.Add(1);
      i = Probe(m, hash, &found);
    }
  }
  if (!found) {
    if (size_ >= max_size_) {
      EvictFor(hash & mask_);
      i = Probe(m, hash, &found);
    }
    StartFlow(slots_[i], m, hash);
  }
  Slot& s = slots_[i];
  // A flow from an endpoint to itself (same address and port) counts all as a -> b.
  const bool a_to_b = s.key.a == m.src && s.key.a_port == m.src_port;
  DirectionCounters& c = a_to_b ? s.ab : s.ba;
  const std::uint64_t w = m.sample_weight;
  c.packets += w;
  c.l3_bytes += std::uint64_t{m.l3_bytes} * w;
  c.wire_bytes += std::uint64_t{m.wire_bytes} * w;
  s.total_l3_bytes += std::uint64_t{m.l3_bytes} * w;
  if (m.proto == 6 && (m.flags & capture::kMetaLaterFragment) == 0) {
    TcpPayloadTracker& t = a_to_b ? s.tcp_ab : s.tcp_ba;
    const std::uint32_t seq = (m.tcp_flags & capture::kTcpSyn) ? m.tcp_seq + 1 : m.tcp_seq;
    c.payload_bytes += std::uint64_t{t.Add(seq, m.payload_bytes)} * w;
    s.flags_seen |= m.tcp_flags;
    if (m.tcp_flags & capture::kTcpFin) (a_to_b ? s.fin_ab : s.fin_ba) = true;
    if ((m.tcp_flags & capture::kTcpRst) || (s.fin_ab && s.fin_ba)) s.closing = true;
  } else if (m.proto != 6) {
    c.payload_bytes += std::uint64_t{m.payload_bytes} * w;
  } else {
    // A later fragment of a TCP segment: its bytes are payload the first fragment's header
    // announced; sequence tracking has already seen the segment start.
    c.payload_bytes += std::uint64_t{m.payload_bytes} * w;
  }
  if (s.last < m.ts) s.last = m.ts;
  counters_.packets.Add(1);
}

bool FlowTable::Expired(const Slot& s, StreamTime now) const noexcept {
  const std::int64_t quiet = now.ns - s.last.ns;
  return quiet >= (s.closing ? options_.close_linger_ns : options_.idle_timeout_ns);
}

void FlowTable::AdvanceTo(StreamTime now) noexcept {
  if (swept_to_.ns == 0) swept_to_ = now;
  if (now <= swept_to_) return;
  const std::int64_t elapsed = now.ns - swept_to_.ns;
  std::size_t budget = slots_.size();
  if (elapsed < kSweepPeriodNs) {
    // elapsed < 1e9 and slots < 2^34 keep the product inside 64 bits.
    budget = static_cast<std::size_t>(static_cast<std::uint64_t>(slots_.size()) *
                                      static_cast<std::uint64_t>(elapsed) / kSweepPeriodNs);
    if (budget == 0) return;  // wait until a whole slot's worth of stream time has passed
  }
  swept_to_ = now;
  for (std::size_t n = 0; n < budget; ++n) {
    Slot& s = slots_[sweep_cursor_];
    if (s.used) {
      if (Expired(s, now)) {
        Emit(s, s.closing ? FlowEndReason::kClosed : FlowEndReason::kIdle);
        Remove(sweep_cursor_);
        counters_.flows_ended.Add(1);
        continue;  // backward shift may have moved another flow into this slot
      }
      if (now.ns - s.last_report.ns >= options_.active_timeout_ns) {
        if (s.ab.packets + s.ba.packets > 0) Emit(s, FlowEndReason::kActive);
        s.last_report = now;
      }
    }
    sweep_cursor_ = (sweep_cursor_ + 1) & mask_;
  }
}

void FlowTable::FlushAll() noexcept {
  for (Slot& s : slots_) {
    if (!s.used) continue;
    Emit(s, FlowEndReason::kFlushed);
    s.used = false;
    counters_.flows_ended.Add(1);
  }
  size_ = 0;
  counters_.active_flows.Set(0);
}

void FlowTable::Emit(Slot& s, FlowEndReason reason) noexcept {
  FlowUpdate u;
  u.key = s.key;
  u.flow_id = s.flow_id;
  u.first = s.first;
  u.last = s.last;
  u.a_to_b = s.ab;
  u.b_to_a = s.ba;
  u.tcp_flags = s.flags_seen;
  u.direction = s.direction;
  u.tenant = s.tenant;
  u.reason = reason;
  s.ab = DirectionCounters{};
  s.ba = DirectionCounters{};
  s.flags_seen = 0;
  if (sink_ != nullptr) sink_->OnFlowUpdate(u);
}

// Backward-shift deletion: no tombstones, so probe chains stay short under churn.
void FlowTable::Remove(std::size_t index) noexcept {
  std::size_t hole = index;
  std::size_t j = index;
  for (;;) {
    j = (j + 1) & mask_;
    Slot& s = slots_[j];
    if (!s.used) break;
    const std::size_t home = s.hash & mask_;
    // Move s into the hole unless its home lies cyclically in (hole, j].
    const bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_between) {
      slots_[hole] = s;
      hole = j;
    }
  }
  slots_[hole].used = false;
  --size_;
  counters_.active_flows.Set(size_);
}

std::size_t FlowTable::EvictFor(std::size_t home) noexcept {
  // Evict the flow with the fewest bytes near the new flow's home slot: a flood of small flows
  // evicts its own kind, and a bulk transfer keeps its slot.
  std::size_t victim = slots_.size();
  std::uint64_t least = ~std::uint64_t{0};
  for (std::size_t n = 0, i = home; n < kEvictWindow; ++n, i = (i + 1) & mask_) {
    if (slots_[i].used && slots_[i].total_l3_bytes < least) {
      least = slots_[i].total_l3_bytes;
      victim = i;
    }
  }
  if (victim == slots_.size()) {  // nothing near home (cannot happen when full; be safe)
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].used) {
        victim = i;
        break;
      }
    }
  }
  Emit(slots_[victim], FlowEndReason::kEvicted);
  Remove(victim);
  counters_.evictions.Add(1);
  return victim;
}

}  // namespace weighbridge::analytics
