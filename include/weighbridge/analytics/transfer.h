// Transfers: flows joined into the unit users care about — one inside host moving data with one
// external peer group (many streams, many addresses of one endpoint), until a silence longer
// than the gap. The Sessionizer builds them from flow updates in event-time order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/core/ip.h"

namespace weighbridge::analytics {

// A named set of prefixes that counts as one peer: an organisation's ranges, a cloud bucket's
// front ends.
struct PeerGroupOptions {
  std::string name;
  std::vector<Prefix> prefixes;
};

struct SessionizerOptions {
  std::int64_t gap_ns = 10 * 60 * kNanosPerSecond;  // flows closer than this are one transfer
  int ipv4_group_len = 24;  // external peers are grouped by this prefix length...
  int ipv6_group_len = 48;
  std::vector<PeerGroupOptions> named_groups;  // ...unless a named group holds them
  // The longest a flow's first update can come after its first packet (MaxFirstUpdateDelayNs of
  // the pipeline's options). A transfer is ended only when no update still to come could belong
  // to it.
  std::int64_t max_update_delay_ns = 120 * kNanosPerSecond;
};

struct Transfer {
  std::uint64_t id = 0;      /**< stable: derived from the key and the first flow's start */
  std::uint32_t version = 0; /**< 1 on creation, +1 on every change */
  IpAddress inside;          /**< the inside host (for internal traffic: the initiator) */
  Prefix external;           /**< the external peer group's prefix (the peer's /24 or /48) */
  std::string external_name; /**< the named group, if one matched */
  capture::Direction kind = capture::Direction::kOutbound; /**< where the payload goes: outbound
                                                                (sent >= received), inbound, or
                                                                internal (east-west) */
  std::uint16_t tenant = 0;        /**< tenant index + 1 of the inside host, 0 none */
  StreamTime first;                /**< first packet of its first flow */
  StreamTime last;                 /**< latest packet seen */
  DirectionCounters sent;          /**< inside -> external (for internal: initiator -> peer) */
  DirectionCounters received;      /**< external -> inside */
  std::uint32_t flows = 0;         /**< flows that took part */
  std::uint32_t open_flows = 0;    /**< flows not yet ended */
  std::uint32_t peak_parallel = 0; /**< most flows open at once */
  double peak_rate_bps = 0;        /**< highest payload rate, bits/s, over one update interval */
  bool ended = false;

  // Payload each way over the transfer's span, bits/s.
  double MeanRateBps() const;
  // sent / received payload bytes (received 0: sent bytes as the ratio).
  double Asymmetry() const;
  std::uint64_t PayloadBytes() const { return sent.payload_bytes + received.payload_bytes; }
};

// One open transfer as the sessionizer holds it, for a restart (ExportOpen / ImportOpen).
struct OpenTransferState {
  IpAddress key_inside;
  IpAddress key_group;  // the peer's group address, or a named group's index
  std::uint8_t key_group_len = 0;
  bool key_internal = false;
  Transfer transfer;
  std::int64_t window_start_ns = 0;
  std::uint64_t window_payload_bytes = 0;
};

// Receives transfers as they start, grow and end. Called on the sessionizer's thread.
class TransferSink {
 public:
  virtual ~TransferSink() = default;
  virtual void OnTransfer(const Transfer& t) = 0;
};

// Builds transfers. Single-threaded: feed it updates in event-time order (UpdateMerger's output).
class Sessionizer : public FlowSink {
 public:
  Sessionizer(const SessionizerOptions& options, TransferSink* sink);

  void OnFlowUpdate(const FlowUpdate& u) override;
  // Ends every transfer (end of input or shutdown).
  void FlushAll();
  // Moves event time forward without an update: ends the transfers that no update still to come
  // could extend. A live sensor calls it on watermarks, so a transfer ends while the link is
  // silent; replay does not (watermarks depend on the shard count, results must not).
  void AdvanceTo(StreamTime now) { EndExpired(now.ns - options_.max_update_delay_ns); }

  // For a daemon restart: the transfers still open (what FlushAll would end), in first-time
  // order. ImportOpen, before the first update, takes them back: flows of the same inside host
  // and peer group join them as if there had been no restart (within the gap).
  std::vector<OpenTransferState> ExportOpen() const;
  void ImportOpen(std::vector<OpenTransferState> open);
  std::uint64_t transfers_started() const { return transfers_started_; }
  std::size_t open_transfers() const { return open_.size(); }

 private:
  struct Key {
    IpAddress inside;
    IpAddress group;
    std::uint8_t group_len;
    bool internal;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Open {
    Transfer t;                        // t.open_flows: flows seen and not yet ended
    std::int64_t window_start_ns = 0;  // for the peak rate
    std::uint64_t window_payload = 0;
  };
  struct Deadline {
    std::int64_t at_ns;  // the transfer's last + gap when this entry was made
    Key key;
    bool operator>(const Deadline& o) const { return at_ns > o.at_ns; }
  };

  // Ends transfers whose gap has passed before event time `now`. Driven by update event times,
  // never by the wall clock or watermarks, so the same updates always end the same transfers.
  void EndExpired(std::int64_t now_ns);
  bool KeyOf(const FlowUpdate& u, Key* key, bool* a_is_inside, std::string* name) const;
  void End(Open& o);
  void Emit(Open& o);

  SessionizerOptions options_;
  TransferSink* sink_;
  PrefixMap<std::uint32_t> named_;  // prefix -> index into options_.named_groups
  std::unordered_map<Key, Open, KeyHash> open_;
  std::vector<Deadline> deadlines_;  // a min-heap; stale entries are skipped when popped
  std::uint64_t transfers_started_ = 0;
};

}  // namespace weighbridge::analytics
