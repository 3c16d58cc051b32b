// FlowTable: the bidirectional flow table of one shard. Fixed capacity, open addressing, sized
// at construction; nothing allocates on the packet path. Owned and used by exactly one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/tcp_payload.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/counter.h"

namespace weighbridge::analytics {

struct alignas(kCacheLine) FlowTableCounters {
  RelaxedCounter packets;          // packets accounted
  RelaxedCounter flows_created;
  RelaxedCounter flows_ended;      // idle, closed, flushed
  RelaxedCounter evictions;        // flows pushed out of a full table (their counts are emitted)
  RelaxedCounter active_flows;     // gauge
};

class FlowTable {
 public:
  // `capacity`: flows held at once (the slot array is the next power of two >= capacity * 5/4).
  FlowTable(const PipelineOptions& options, std::uint64_t capacity, FlowSink* sink);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Accounts one packet. Packets must come in non-decreasing time per table (stream time).
  void Account(const capture::PacketMeta& meta) noexcept;
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
  std::size_t Probe(const capture::PacketMeta& meta, std::uint64_t hash, bool* found) noexcept;
  void Emit(Slot& s, FlowEndReason reason) noexcept;
  void Remove(std::size_t index) noexcept;
  void StartFlow(Slot& s, const capture::PacketMeta& meta, std::uint64_t hash) noexcept;
  std::size_t EvictFor(std::size_t home) noexcept;
  bool Expired(const Slot& s, StreamTime now) const noexcept;

  PipelineOptions options_;
  FlowSink* sink_;
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::size_t max_size_ = 0;
  std::size_t sweep_cursor_ = 0;
  StreamTime swept_to_;
  FlowTableCounters counters_;
};

// Symmetric hash of a packet's flow identity: both directions of a flow give the same value, so
// they meet in one shard and one table slot chain.
std::uint64_t SymmetricFlowHash(const capture::PacketMeta& meta) noexcept;

}  // namespace weighbridge::analytics
