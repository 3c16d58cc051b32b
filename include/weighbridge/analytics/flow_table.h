// FlowTable: the bidirectional flow table of one shard. Fixed capacity, open addressing, sized
// at construction; nothing allocates on the packet path. Owned and used by exactly one thread.
#pragma once

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/tcp_payload.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/counter.h"

namespace weighbridge::analytics {

// The idle-flow sweep visits every slot once per this much stream time.
inline constexpr std::int64_t kSweepPeriodSeconds = 5;
// Every update a table emits after it has seen stream time T has an event time (FlowUpdate::at)
// of at least T minus this: idle flows are found by a sweep that visits every slot once per
// sweep period, and packets may arrive up to a second out of order.
inline constexpr std::int64_t kUpdateWatermarkLagNs = (kSweepPeriodSeconds + 1) * kNanosPerSecond;

struct alignas(kCacheLine) FlowTableCounters {
  RelaxedCounter packets;  // packets accounted
  RelaxedCounter flows_created;
  RelaxedCounter flows_ended;   // idle, closed, flushed
  RelaxedCounter evictions;     // flows pushed out of a full table (their counts are emitted)
  RelaxedCounter active_flows;  // gauge
  // Packets and L3 bytes (scaled by sample weight) by the packet's own direction.
  std::array<RelaxedCounter, static_cast<std::size_t>(capture::Direction::kCount)>
      direction_packets;
  std::array<RelaxedCounter, static_cast<std::size_t>(capture::Direction::kCount)>
      direction_l3_bytes;
};

class FlowTable {
 public:
  // `capacity`: flows held at once; the slot array has capacity * 8/7 slots (112 bytes each, so
  // 128 bytes per flow at the table's maximum load).
  FlowTable(const PipelineOptions& options, std::uint64_t capacity, FlowSink* sink);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Accounts one packet. Packets should come in non-decreasing stream time; a late packet is
  // accounted but moves no clock.
  void Account(const capture::PacketMeta& meta) noexcept;
  // Accounts a burst, skipping watermarks: hashes first, then accounts each packet while the
  // slots of packets a few places ahead are being prefetched. Fills in meta.flow_hash.
  void AccountBurst(std::span<capture::PacketMeta> burst) noexcept;
  // Runs idle/active/close timeouts up to stream time `now`. Call once per burst.
  void AdvanceTo(StreamTime now) noexcept;
  // Emits every flow still in the table (end of input or shutdown) and empties it.
  void FlushAll() noexcept;

  const FlowTableCounters& counters() const { return counters_; }
  std::size_t size() const { return size_; }
  std::size_t slot_count() const;
  static std::size_t BytesPerSlot();

 private:
  struct Slot;
  std::size_t Home(std::uint32_t hash32) const noexcept;
  void Prefetch(std::uint32_t hash32) const noexcept;
  std::size_t Probe(const capture::PacketMeta& meta, std::uint32_t hash32, bool* found) noexcept;
  void Emit(Slot& s, FlowEndReason reason, StreamTime at) noexcept;
  void EmitPacket(Slot& s, bool a_to_b, const DirectionCounters& add, StreamTime at) noexcept;
  StreamTime EndTime(const Slot& s) const noexcept;
  static std::uint64_t FlowId(const Slot& s) noexcept;
  void Remove(std::size_t index) noexcept;
  void StartFlow(Slot& s, const capture::PacketMeta& meta, std::uint32_t hash32) noexcept;
  void EvictFor(std::size_t home, StreamTime at) noexcept;
  bool Expired(const Slot& s, StreamTime now) const noexcept;

  PipelineOptions options_;
  FlowSink* sink_;
  // The slots live in their own anonymous mapping: zero pages until touched (so an idle table
  // costs little), and transparent huge pages where the kernel allows (fewer TLB misses on the
  // random accesses that flow lookups are).
  Slot* slots_ = nullptr;
  std::size_t slot_count_ = 0;
  std::size_t mapped_bytes_ = 0;
  std::size_t size_ = 0;
  std::size_t max_size_ = 0;
  std::size_t sweep_cursor_ = 0;
  // One bit per slot, set while the slot holds a flow: a sweep skips 64 empty slots per word, so
  // a sparse table (sampled input, a quiet link) costs little to sweep even when stream time
  // jumps a whole sweep period between bursts.
  std::vector<std::uint64_t> used_bits_;
  // No flow can expire before this stream time (ns): the earliest deadline found by the last full
  // sweep, lowered as flows start or begin closing. INT64_MIN: unknown (sweep as usual). Lets a
  // shard whose stream time jumps past a sweep period per burst (sampled input) skip sweeps.
  std::int64_t next_expiry_ns_ = INT64_MIN;
  void LowerExpiry(std::int64_t end_ns) noexcept {
    if (next_expiry_ns_ != INT64_MIN && end_ns < next_expiry_ns_) next_expiry_ns_ = end_ns;
  }
  std::uint64_t sweep_debt_ = 0;  // slots * us of stream time not yet turned into visits
  StreamTime swept_to_;
  FlowTableCounters counters_;
};

// Symmetric hash of a packet's flow identity: both directions of a flow give the same value, so
// they meet in one shard and one table slot chain.
std::uint64_t SymmetricFlowHash(const capture::PacketMeta& meta) noexcept;

}  // namespace weighbridge::analytics
