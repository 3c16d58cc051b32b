#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>

#include "codec.h"
#include "db.h"
#include "weighbridge/store/history.h"

namespace weighbridge::store {

namespace {

constexpr std::size_t kMaxBatchRecords = 4096;
// Retention runs at most this often (wall time) and only after stream time moved a minute.
constexpr auto kRetentionEvery = std::chrono::seconds(10);
constexpr std::int64_t kRetentionStreamStepNs = 60 * kNanosPerSecond;
constexpr std::int64_t kMinuteNs = 60 * kNanosPerSecond;
// A flow update spread over more minutes than this puts the rest in its first kept minute.
constexpr std::int64_t kMaxSpreadMinutes = 24 * 60;

std::int64_t FloorTo(std::int64_t ns, std::int64_t step) {
  std::int64_t q = ns / step;
  if (ns % step != 0 && ns < 0) --q;
  return q * step;
}

// 64 x 64 bits need 128 for the product (a day of nanoseconds times a byte count).
__extension__ using Uint128 = unsigned __int128;

std::uint64_t Part(std::uint64_t total, std::int64_t part_ns, std::int64_t whole_ns) {
  return static_cast<std::uint64_t>(static_cast<Uint128>(total) *
                                    static_cast<std::uint64_t>(part_ns) /
                                    static_cast<std::uint64_t>(whole_ns));
}

RollupCounters Side(const analytics::DirectionCounters& in,
                    const analytics::DirectionCounters& out) {
  RollupCounters c;
  c.in_bytes = in.l3_bytes;
  c.in_payload_bytes = in.payload_bytes;
  c.in_packets = in.packets;
  c.out_bytes = out.l3_bytes;
  c.out_payload_bytes = out.payload_bytes;
  c.out_packets = out.packets;
  return c;
}

RollupCounters Scaled(const RollupCounters& c, std::int64_t part_ns, std::int64_t whole_ns) {
  RollupCounters r;
  r.in_bytes = Part(c.in_bytes, part_ns, whole_ns);
  r.out_bytes = Part(c.out_bytes, part_ns, whole_ns);
  r.in_payload_bytes = Part(c.in_payload_bytes, part_ns, whole_ns);
  r.out_payload_bytes = Part(c.out_payload_bytes, part_ns, whole_ns);
  r.in_packets = Part(c.in_packets, part_ns, whole_ns);
  r.out_packets = Part(c.out_packets, part_ns, whole_ns);
  return r;
}

RollupCounters Minus(const RollupCounters& a, const RollupCounters& b) {
  RollupCounters r;
  r.in_bytes = a.in_bytes - b.in_bytes;
  r.out_bytes = a.out_bytes - b.out_bytes;
  r.in_payload_bytes = a.in_payload_bytes - b.in_payload_bytes;
  r.out_payload_bytes = a.out_payload_bytes - b.out_payload_bytes;
  r.in_packets = a.in_packets - b.in_packets;
  r.out_packets = a.out_packets - b.out_packets;
  r.flows = a.flows - b.flows;
  return r;
}

}  // namespace

// The writer thread's own state: never touched by the callers.
struct HistoryWriter::Writing {
  History::Handles* h = nullptr;
  rocksdb::WriteBatch batch;
  std::size_t batch_records = 0;
  std::uint64_t seq = 0;
  // Where each open transfer is stored, so that a version that moves `first` replaces it.
  std::unordered_map<std::uint64_t, std::int64_t> transfer_first;
  // Each running flow's previous `last`: the start of the interval its next delta covers.
  std::unordered_map<std::uint64_t, std::int64_t> flow_prev_last;
  struct RollupAcc {
    std::uint16_t tenant = 0;
    RollupCounters c;
  };
  std::unordered_map<std::string, RollupAcc> rollups;  // this batch's additions
  std::int64_t newest_ns = std::numeric_limits<std::int64_t>::min();
  bool newest_dirty = false;
  std::uint64_t max_transfer_span = 0;
  std::uint64_t max_alert_span = 0;
  bool spans_dirty = false;
  std::int64_t retention_at_ns = std::numeric_limits<std::int64_t>::min();
  std::chrono::steady_clock::time_point retention_wall{};
  std::chrono::steady_clock::time_point size_wall{};
  std::chrono::steady_clock::time_point synced_wall{};
  bool unsynced = false;
};

HistoryWriter::HistoryWriter(History& history, const HistoryOptions& options)
    : history_(history), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

HistoryWriter::~HistoryWriter() {
  Stop();
}

bool HistoryWriter::Push(Item item, bool droppable) {
  std::unique_lock<std::mutex> lock(mu_);
  if (droppable && options_.block_when_full) {
    room_.wait(lock, [&] { return stopping_ || droppable_queued_ < options_.queue_capacity; });
  }
  if (stopping_ || (droppable && droppable_queued_ >= options_.queue_capacity)) {
    queue_drops_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const bool was_empty = queue_.empty();
  queue_.push_back(std::move(item));
  if (droppable) {
    ++droppable_queued_;
    queue_depth_.store(droppable_queued_, std::memory_order_relaxed);
  }
  lock.unlock();
  // The writer drains the whole queue each time it wakes; only the first item needs a wake-up.
  if (was_empty) wake_.notify_one();
  return true;
}

void HistoryWriter::OnFlowUpdate(const analytics::FlowUpdate& u) {
  Push(Item(u), true);
}
void HistoryWriter::OnTransfer(const analytics::Transfer& t) {
  Push(Item(t), true);
}
void HistoryWriter::OnAlert(const analytics::Alert& a) {
  Push(Item(a), true);
}

void HistoryWriter::SaveState(std::string name, std::string blob) {
  Push(Item(StateItem{std::move(name), std::move(blob)}), false);
}

Status HistoryWriter::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_ || stopping_) {
    Status s = pending_error_;
    pending_error_ = Status::Ok();
    return s;
  }
  const std::uint64_t ticket = ++next_ticket_;
  const bool was_empty = queue_.empty();
  queue_.push_back(Item(FlushItem{ticket}));
  if (was_empty) wake_.notify_one();
  done_.wait(lock, [&] { return done_ticket_ >= ticket; });
  Status s = pending_error_;
  pending_error_ = Status::Ok();
  return s;
}

void HistoryWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  room_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

void HistoryWriter::SetPausedForTesting(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  wake_.notify_one();
}

HistoryWriter::Stats HistoryWriter::stats() const {
  Stats s;
  s.records_written = records_written_.load(std::memory_order_relaxed);
  s.batches_written = batches_written_.load(std::memory_order_relaxed);
  s.queue_drops = queue_drops_.load(std::memory_order_relaxed);
  s.queue_depth = queue_depth_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.db_size_bytes = db_size_bytes_.load(std::memory_order_relaxed);
  return s;
}

void HistoryWriter::Run() {
  Writing w;
  w.h = &history_.handles();
  rocksdb::DB* db = w.h->db.get();
  auto& cf = w.h->cf;
  // Sequence numbers only grow over the database's life, so keys made from them never collide
  // with an earlier run's.
  w.seq = db->GetLatestSequenceNumber() + 1;
  if (Result<std::optional<std::int64_t>> n = history_.NewestStreamTime();
      n.ok() && n->has_value()) {
    w.newest_ns = **n;
  }
  {
    std::string v;
    if (db->Get(rocksdb::ReadOptions(), cf[internal::kMeta], internal::kMetaMaxTransferSpanNs, &v)
            .ok() &&
        v.size() == 8) {
      w.max_transfer_span = internal::GetBe64(v.data());
    }
    v.clear();
    if (db->Get(rocksdb::ReadOptions(), cf[internal::kMeta], internal::kMetaMaxAlertSpanNs, &v)
            .ok() &&
        v.size() == 8) {
      w.max_alert_span = internal::GetBe64(v.data());
    }
  }
  w.synced_wall = std::chrono::steady_clock::now();
  const auto interval =
      std::chrono::nanoseconds(std::max<std::int64_t>(options_.sync_interval_ns, 1'000'000));

  auto note_time = [&](std::int64_t ns) {
    if (ns > w.newest_ns) {
      w.newest_ns = ns;
      w.newest_dirty = true;
    }
  };
  auto add_rollup = [&](RollupEntity e, const Prefix& subject, std::uint16_t tenant,
                        std::int64_t start_ns, const RollupCounters& c) {
    for (RollupStep step : {RollupStep::kMinute, RollupStep::kHour}) {
      Writing::RollupAcc& acc = w.rollups[internal::RollupKey(
          step, FloorTo(start_ns, RollupStepNanos(step)), e, subject)];
      acc.c += c;
      if (tenant != 0) acc.tenant = tenant;
    }
  };
  // Spreads one side's delta over the minutes of [start, end] in proportion to time.
  auto spread = [&](RollupEntity e, const Prefix& subject, std::uint16_t tenant, std::int64_t start,
                    std::int64_t end, std::int64_t first_ns, bool first_update,
                    const RollupCounters& c) {
    if (first_update) {
      RollupCounters f;
      f.flows = 1;
      add_rollup(e, subject, tenant, first_ns, f);
    }
    if (end <= start || FloorTo(start, kMinuteNs) == FloorTo(end, kMinuteNs)) {
      add_rollup(e, subject, tenant, end, c);
      return;
    }
    start = std::max(start, end - kMaxSpreadMinutes * kMinuteNs);
    const std::int64_t whole = end - start;
    const std::int64_t last_m = FloorTo(end, kMinuteNs);
    RollupCounters given;
    for (std::int64_t m = FloorTo(start, kMinuteNs); m < last_m; m += kMinuteNs) {
      const RollupCounters part =
          Scaled(c, std::min(m + kMinuteNs, end) - std::max(m, start), whole);
      if (part == RollupCounters{}) continue;
      given += part;
      add_rollup(e, subject, tenant, m, part);
    }
    // The minute holding `end` takes the rest, rounding included.
    const RollupCounters rest = Minus(c, given);
    if (!(rest == RollupCounters{}) || given == RollupCounters{}) {
      add_rollup(e, subject, tenant, last_m, rest);
    }
  };
  auto on_flow = [&](const analytics::FlowUpdate& u) {
    rocksdb::Status s =
        w.batch.Put(cf[internal::kFlows], internal::FlowKey(u.at.ns, u.flow_id, w.seq++),
                    internal::EncodeFlowUpdate(u));
    (void)s;  // WriteBatch::Put only fails past its size limit, which is not set
    note_time(std::max(u.at.ns, u.last.ns));
    std::int64_t start = u.first.ns;
    if (!u.first_update) {
      if (auto it = w.flow_prev_last.find(u.flow_id); it != w.flow_prev_last.end())
        start = it->second;
    }
    if (u.reason == analytics::FlowEndReason::kActive) {
      w.flow_prev_last[u.flow_id] = u.last.ns;
    } else {
      w.flow_prev_last.erase(u.flow_id);
    }
    const int host_len_v4 = 32;
    const int host_len_v6 = 128;
    auto host = [&](const IpAddress& a) { return Prefix{a, a.IsV4() ? host_len_v4 : host_len_v6}; };
    auto group = [&](const IpAddress& a) {
      const int len = a.IsV4() ? options_.ipv4_group_len : options_.ipv6_group_len;
      return Prefix{a.Masked(len), len};
    };
    const RollupCounters a_side = Side(u.b_to_a, u.a_to_b);  // what a received / sent
    const RollupCounters b_side = Side(u.a_to_b, u.b_to_a);
    switch (u.direction) {
      case capture::Direction::kOutbound:
        spread(RollupEntity::kInsideHost, host(u.key.a), u.tenant, start, u.last.ns, u.first.ns,
               u.first_update, a_side);
        // The group's "in" is what it sent into the site.
        spread(RollupEntity::kExternalGroup, group(u.key.b), 0, start, u.last.ns, u.first.ns,
               u.first_update, a_side);
        break;
      case capture::Direction::kInbound:
        spread(RollupEntity::kInsideHost, host(u.key.b), u.tenant, start, u.last.ns, u.first.ns,
               u.first_update, b_side);
        spread(RollupEntity::kExternalGroup, group(u.key.a), 0, start, u.last.ns, u.first.ns,
               u.first_update, b_side);
        break;
      case capture::Direction::kInternal:
        spread(RollupEntity::kInsideHost, host(u.key.a), u.tenant, start, u.last.ns, u.first.ns,
               u.first_update, a_side);
        spread(RollupEntity::kInsideHost, host(u.key.b), 0, start, u.last.ns, u.first.ns,
               u.first_update, b_side);
        break;
      default:
        break;  // transit: neither end is ours
    }
  };
  auto on_transfer = [&](const analytics::Transfer& t) {
    auto it = w.transfer_first.find(t.id);
    if (it != w.transfer_first.end() && it->second != t.first.ns) {
      rocksdb::Status s =
          w.batch.Delete(cf[internal::kTransfers], internal::TransferKey(it->second, t.id));
      (void)s;  // as above
    }
    rocksdb::Status s =
        w.batch.Put(cf[internal::kTransfers], internal::TransferKey(t.first.ns, t.id),
                    internal::EncodeTransfer(t));
    (void)s;
    if (t.ended) {
      if (it != w.transfer_first.end()) w.transfer_first.erase(it);
    } else {
      w.transfer_first[t.id] = t.first.ns;
    }
    note_time(t.last.ns);
    const auto span = static_cast<std::uint64_t>(std::max<std::int64_t>(t.last.ns - t.first.ns, 0));
    if (span > w.max_transfer_span) {
      w.max_transfer_span = span;
      w.spans_dirty = true;
    }
  };
  auto on_alert = [&](const analytics::Alert& a) {
    rocksdb::Status s =
        w.batch.Put(cf[internal::kAlerts], internal::AlertKey(a.last_seen.ns, a.id, a.version),
                    internal::EncodeAlert(a));
    (void)s;
    note_time(a.last_seen.ns);
    const auto span =
        static_cast<std::uint64_t>(std::max<std::int64_t>(a.last_seen.ns - a.first_seen.ns, 0));
    if (span > w.max_alert_span) {
      w.max_alert_span = span;
      w.spans_dirty = true;
    }
  };
  // Writes the batch (with its rollups and meta) and syncs when asked or per policy.
  auto write = [&](bool sync) {
    if (w.batch_records == 0 && w.batch.Count() == 0) {
      if (sync && w.unsynced) {
        const rocksdb::Status s = db->SyncWAL();
        if (!s.ok()) {
          write_errors_.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard<std::mutex> lock(mu_);
          if (pending_error_.ok())
            pending_error_ = internal::FromRocks(s, "history: syncing the log");
        } else {
          w.unsynced = false;
          w.synced_wall = std::chrono::steady_clock::now();
        }
      }
      return;
    }
    for (auto& [key, acc] : w.rollups) {
      rocksdb::Status s =
          w.batch.Merge(cf[internal::kRollups], key, internal::EncodeRollup(acc.tenant, acc.c));
      (void)s;
    }
    w.rollups.clear();
    if (w.newest_dirty) {
      rocksdb::Status s = w.batch.Put(cf[internal::kMeta], internal::kMetaNewestStreamNs,
                                      internal::TimeKey(w.newest_ns));
      (void)s;
      w.newest_dirty = false;
    }
    if (w.spans_dirty) {
      std::string t;
      internal::PutBe64(&t, w.max_transfer_span);
      std::string a;
      internal::PutBe64(&a, w.max_alert_span);
      rocksdb::Status s = w.batch.Put(cf[internal::kMeta], internal::kMetaMaxTransferSpanNs, t);
      s = w.batch.Put(cf[internal::kMeta], internal::kMetaMaxAlertSpanNs, a);
      (void)s;
      w.spans_dirty = false;
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync || options_.sync == SyncPolicy::kEveryBatch;
    const rocksdb::Status s = db->Write(wo, &w.batch);
    if (s.ok()) {
      records_written_.fetch_add(w.batch_records, std::memory_order_relaxed);
      batches_written_.fetch_add(1, std::memory_order_relaxed);
      if (wo.sync) {
        w.unsynced = false;
        w.synced_wall = std::chrono::steady_clock::now();
      } else {
        w.unsynced = true;
      }
    } else {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_error_.ok()) pending_error_ = internal::FromRocks(s, "history: writing a batch");
    }
    w.batch.Clear();
    w.batch_records = 0;
  };

  std::vector<Item> items;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, interval, [&] { return (!queue_.empty() && !paused_) || stopping_; });
      if (paused_ && !stopping_) continue;
      items.swap(queue_);
      droppable_queued_ = 0;
      queue_depth_.store(0, std::memory_order_relaxed);
      stop = stopping_;
    }
    if (options_.block_when_full) room_.notify_all();
    std::uint64_t flushed_ticket = 0;
    for (Item& item : items) {
      if (auto* f = std::get_if<FlushItem>(&item)) {
        write(true);
        flushed_ticket = f->ticket;
        // Hand the ticket back at once: a Flush() caller waits only for what came before it.
        {
          std::lock_guard<std::mutex> lock(mu_);
          done_ticket_ = std::max(done_ticket_, flushed_ticket);
        }
        done_.notify_all();
        continue;
      }
      if (auto* u = std::get_if<analytics::FlowUpdate>(&item)) {
        on_flow(*u);
      } else if (auto* t = std::get_if<analytics::Transfer>(&item)) {
        on_transfer(*t);
      } else if (auto* a = std::get_if<analytics::Alert>(&item)) {
        on_alert(*a);
      } else if (auto* st = std::get_if<StateItem>(&item)) {
        rocksdb::Status s = w.batch.Put(cf[internal::kState], st->name, st->blob);
        (void)s;
      }
      ++w.batch_records;
      if (w.batch_records >= kMaxBatchRecords) write(false);
    }
    items.clear();
    write(stop);
    const auto now = std::chrono::steady_clock::now();
    if (options_.sync == SyncPolicy::kInterval && w.unsynced && now - w.synced_wall >= interval) {
      write(true);
    }
    if (w.newest_ns != std::numeric_limits<std::int64_t>::min() &&
        (w.retention_at_ns == std::numeric_limits<std::int64_t>::min() ||
         w.newest_ns - w.retention_at_ns >= kRetentionStreamStepNs) &&
        now - w.retention_wall >= kRetentionEvery) {
      w.retention_at_ns = w.newest_ns;
      w.retention_wall = now;
      if (Status s = history_.ApplyRetention(options_, w.newest_ns); !s.ok()) {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (now - w.size_wall >= std::chrono::seconds(1)) {
      w.size_wall = now;
      db_size_bytes_.store(history_.ApproximateSizeBytes(), std::memory_order_relaxed);
    }
    if (stop) {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
    }
  }
  db_size_bytes_.store(history_.ApproximateSizeBytes(), std::memory_order_relaxed);
}

}  // namespace weighbridge::store
