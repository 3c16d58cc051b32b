// The history store: flows, transfers, alerts, per-minute rollups, detector state and the alert
// outbox in one RocksDB database (ARCHITECTURE.md "Outputs"), and the writer that feeds it from
// the analytics output threads. docs/history.md describes the layout, retention and durability.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/result.h"
#include "weighbridge/core/units.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace weighbridge::store {

inline constexpr std::int64_t kNanosPerDay = 24LL * 3600 * kNanosPerSecond;

// The schema this build writes. A database with a higher version is refused; a lower one is
// migrated on Open(). 2: transfer and alert values may carry a sampling error (value version 2);
// an older build refuses such a database rather than misreading it.
inline constexpr std::uint32_t kSchemaVersion = 2;

// When the writer's batches reach the disk (docs/history.md "Durability").
enum class SyncPolicy : std::uint8_t {
  // Every batch is written with an fsync of the write-ahead log: once written, a record survives
  // a power loss. Flush() returning ok means everything queued before it is on disk.
  kEveryBatch,
  // Batches go to the write-ahead log without an fsync (they survive a crash of the process, as
  // the OS holds them) and the log is synced every sync_interval_ns of wall time; a power loss
  // loses at most that much. Flush() still syncs before it returns.
  kInterval,
};

// Filled in by app/ from `history:`. Retentions are measured against the newest stream time
// written (not the wall clock), so a replay of an old capture is not deleted as it is written.
struct HistoryOptions {
  std::string path;  // RocksDB directory; created when missing
  std::int64_t flows_retention_ns = 90 * kNanosPerDay;
  std::int64_t transfers_retention_ns = 365 * kNanosPerDay;
  std::int64_t alerts_retention_ns = 365 * kNanosPerDay;
  std::int64_t rollups_retention_ns = 90 * kNanosPerDay;
  // Bytes on disk (table files) above which the oldest flows, then the oldest rollups, are
  // deleted ahead of their retention; 0: no budget. Transfers, alerts, state and the outbox are
  // never deleted for size.
  std::uint64_t size_budget_bytes = 0;
  SyncPolicy sync = SyncPolicy::kEveryBatch;
  std::int64_t sync_interval_ns = 1 * kNanosPerSecond;  // wall time, kInterval only
  std::size_t queue_capacity = 65536;  // records waiting for the writer; more are dropped
  // Replay's backpressure policy (STYLE.md §3): a full queue makes the caller wait for room
  // instead of dropping, so that a replay's history is complete. Live capture leaves it false.
  bool block_when_full = false;
  int ipv4_group_len = 24;  // external peers are grouped by these prefix lengths
  int ipv6_group_len = 48;  // in the rollups (detect.*.external_group)
  // site.tenants names, in order (FlowUpdate::tenant and Transfer::tenant are index + 1). Stored
  // in the database so that `weighbridge history` prints names without the config.
  std::vector<std::string> tenant_names;
};

// [since_ns, until_ns) in stream time.
struct TimeRange {
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t until_ns = std::numeric_limits<std::int64_t>::max();
};

// What a rollup row counts: one inside host, or one external peer group.
enum class RollupEntity : std::uint8_t { kInsideHost = 0, kExternalGroup = 1 };

// Counters of one rollup row. "in" is towards the entity's side of the edge seen from the entity:
// bytes the inside host received / bytes the external group sent into the site.
struct RollupCounters {
  std::uint64_t in_bytes = 0;  // L3 bytes
  std::uint64_t out_bytes = 0;
  std::uint64_t in_payload_bytes = 0;
  std::uint64_t out_payload_bytes = 0;
  std::uint64_t in_packets = 0;
  std::uint64_t out_packets = 0;
  std::uint64_t flows = 0;  // flows that started in this minute
  RollupCounters& operator+=(const RollupCounters& o);
  friend bool operator==(const RollupCounters&, const RollupCounters&) = default;
};

// Rollups are kept per minute and per hour (the hour rows make a query over days cheap).
enum class RollupStep : std::uint8_t { kMinute = 0, kHour = 1 };
inline constexpr std::int64_t RollupStepNanos(RollupStep s) {
  return s == RollupStep::kMinute ? 60 * kNanosPerSecond : 3600 * kNanosPerSecond;
}

// One minute (or hour) of one entity.
struct RollupRecord {
  RollupStep step = RollupStep::kMinute;
  std::int64_t minute_ns = 0;  // start of the minute (or hour), stream time
  RollupEntity entity = RollupEntity::kInsideHost;
  Prefix subject;            // the host (/32, /128) or the external group's prefix
  std::uint16_t tenant = 0;  // the inside host's tenant index + 1 (hosts only), 0 none
  RollupCounters counters;
};

// One open database. Open() gives the one read-write handle (RocksDB locks the directory);
// OpenReadOnly() gives a reader that works beside a running writer. Every method is thread-safe.
class History {
 public:
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Creates the database or opens it, migrating an older schema; refuses a newer schema with a
  // message that says so.
  static Result<std::unique_ptr<History>> Open(const HistoryOptions& options);
  // A read-only view (a RocksDB secondary instance, with a private directory for its own log,
  // removed on close). Works while another process has the database open for writing; sees what
  // that process had written when this call returned (CatchUp() reads more).
  static Result<std::unique_ptr<History>> OpenReadOnly(const std::string& path);

  bool read_only() const { return read_only_; }
  const std::string& path() const { return path_; }
  // Secondary only: reads what the writer has written since.
  Status CatchUp();

  // The alert outbox: each write is synced before it returns.
  Status OutboxPut(std::string_view key, std::string_view value);
  Status OutboxErase(std::string_view key);
  Result<std::vector<std::pair<std::string, std::string>>> OutboxLoad() const;  // in key order

  // Detector / sessionizer state blobs by name. Synced.
  Status PutState(std::string_view name, std::string_view blob);
  Result<std::optional<std::string>> GetState(std::string_view name) const;

  // Range scans, in key order. Each calls `fn` per record until it returns false.
  // Flow updates (deltas, as written) whose event time `at` is in the range.
  Status ScanFlows(TimeRange range,
                   const std::function<bool(const analytics::FlowUpdate&)>& fn) const;
  // The latest version of each transfer whose [first, last] overlaps the range, by first time.
  Status ScanTransfers(TimeRange range,
                       const std::function<bool(const analytics::Transfer&)>& fn) const;
  // Every stored version of the alerts whose [first_seen, last_seen] overlaps the range, by
  // last_seen, id, version.
  Status ScanAlerts(TimeRange range, const std::function<bool(const analytics::Alert&)>& fn) const;
  // Rollup rows of one step whose minute (hour) starts in the range, by time.
  Status ScanRollups(RollupStep step, TimeRange range,
                     const std::function<bool(const RollupRecord&)>& fn) const;

  // The newest stream time written (retention's "now"); nullopt for an empty database.
  Result<std::optional<std::int64_t>> NewestStreamTime() const;
  // Tenant names stored by the last writer (HistoryOptions::tenant_names).
  Result<std::vector<std::string>> TenantNames() const;
  // Bytes of table files and write-ahead logs.
  std::uint64_t ApproximateSizeBytes() const;

  // Deletes what is older than each retention before `now_ns` (stream time), by range
  // deletion, and applies the size budget. The writer calls it; exposed for tests and tools.
  Status ApplyRetention(const HistoryOptions& options, std::int64_t now_ns);

  // Maintenance (tools, benchmarks): writes the memtables out and compacts every family, so that
  // the files on disk hold everything, compressed.
  Status CompactAll();

  // For the writer (same module): the raw handles.
  struct Handles;
  Handles& handles() { return *handles_; }

 private:
  History() = default;
  std::unique_ptr<Handles> handles_;
  std::string path_;
  std::string secondary_dir_;  // secondary instance's own directory, removed on close
  bool read_only_ = false;
};

// Fed on the analytics output threads; writes in batches on its own thread; never blocks the
// caller beyond a short lock on the queue (a full queue drops the record and counts it, unless
// HistoryOptions::block_when_full).
// Transfers are stored once per id (the latest version replaces the previous one); every alert
// version and every flow update is stored; each flow update also adds to the per-minute rollups.
class HistoryWriter : public analytics::FlowSink,
                      public analytics::TransferSink,
                      public analytics::AlertSink {
 public:
  HistoryWriter(History& history, const HistoryOptions& options);  // starts the writer thread
  ~HistoryWriter() override;                                       // Stop()
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  void OnFlowUpdate(const analytics::FlowUpdate& u) override;
  void OnTransfer(const analytics::Transfer& t) override;
  void OnAlert(const analytics::Alert& a) override;
  // Queued in order with the records and never dropped (state is small and rare).
  void SaveState(std::string name, std::string blob);
  // Blocks until everything queued before the call is written and the log synced (under both
  // policies). Returns the first write error since the previous Flush(), if any.
  Status Flush();
  void Stop();  // flush and join; idempotent

  struct Stats {
    std::uint64_t records_written = 0;
    std::uint64_t batches_written = 0;
    std::uint64_t queue_drops = 0;
    std::uint64_t queue_depth = 0;
    std::uint64_t write_errors = 0;
    std::uint64_t db_size_bytes = 0;
  };
  Stats stats() const;  // thread-safe

  // Tests only: while paused the writer thread takes nothing from the queue (an explicit hand-off
  // point to fill the queue deterministically). Flush() while paused waits until resumed.
  void SetPausedForTesting(bool paused);

 private:
  struct StateItem {
    std::string name;
    std::string blob;
  };
  struct FlushItem {
    std::uint64_t ticket = 0;
  };
  using Item = std::variant<analytics::FlowUpdate, analytics::Transfer, analytics::Alert, StateItem,
                            FlushItem>;
  struct Writing;  // the writer thread's own state

  bool Push(Item item, bool droppable);
  void Run();

  History& history_;
  HistoryOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;      // the writer: work arrived or stop
  std::condition_variable done_;      // Flush() callers: a ticket completed
  std::condition_variable room_;      // block_when_full callers: the writer took the queue
  std::vector<Item> queue_;           // guarded by mu_
  std::size_t droppable_queued_ = 0;  // guarded by mu_: records counted against the capacity
  std::uint64_t next_ticket_ = 0;     // guarded by mu_
  std::uint64_t done_ticket_ = 0;     // guarded by mu_
  Status pending_error_;              // guarded by mu_: first write error since the last Flush
  bool stopping_ = false;             // guarded by mu_
  bool stopped_ = false;              // guarded by mu_
  bool paused_ = false;               // guarded by mu_

  std::atomic<std::uint64_t> records_written_{0};
  std::atomic<std::uint64_t> batches_written_{0};
  std::atomic<std::uint64_t> queue_drops_{0};
  std::atomic<std::uint64_t> queue_depth_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> db_size_bytes_{0};

  std::thread thread_;
};

}  // namespace weighbridge::store
