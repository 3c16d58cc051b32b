#include "weighbridge/store/history.h"

#include <rocksdb/convenience.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "codec.h"
#include "db.h"

namespace weighbridge::store {

namespace internal {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::Error(what + ": " + s.ToString());
}

}  // namespace internal

using internal::Cf;
using internal::FromRocks;

History::Handles::~Handles() {
  if (db) {
    for (rocksdb::ColumnFamilyHandle* h : owned)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    owned.clear();
    db->Close().PermitUncheckedError();  // the destructor closes anyway; nothing to report to
  }
}

RollupCounters& RollupCounters::operator+=(const RollupCounters& o) {
  in_bytes += o.in_bytes;
  out_bytes += o.out_bytes;
  in_payload_bytes += o.in_payload_bytes;
  out_payload_bytes += o.out_payload_bytes;
  in_packets += o.in_packets;
  out_packets += o.out_packets;
  flows += o.flows;
  return *this;
}

namespace {

constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

std::int64_t SatAdd(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMaxTime : kMinTime;
  return r;
}

// Rollup values add up: the writer issues one Merge per key and batch, RocksDB folds them.
class RollupMerge : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    std::uint16_t tenant = 0;
    RollupCounters sum;
    if (existing != nullptr &&
        !internal::DecodeRollup(std::string_view(existing->data(), existing->size()), &tenant,
                                &sum)) {
      return false;
    }
    std::uint16_t t2 = 0;
    RollupCounters add;
    if (!internal::DecodeRollup(std::string_view(value.data(), value.size()), &t2, &add)) {
      return false;
    }
    sum += add;
    if (t2 != 0) tenant = t2;
    *new_value = internal::EncodeRollup(tenant, sum);
    return true;
  }
  const char* Name() const override { return "weighbridge.rollup_add.v1"; }
};

rocksdb::ColumnFamilyOptions CfOptions(const std::string& name) {
  rocksdb::ColumnFamilyOptions o;
  o.compression = rocksdb::kLZ4Compression;
  o.bottommost_compression = rocksdb::kZSTD;
  if (name == "rollups") o.merge_operator = std::make_shared<RollupMerge>();
  // The small families are read point-wise and rarely written: no need for big buffers.
  if (name == "state" || name == "outbox" || name == "meta") o.write_buffer_size = 4 << 20;
  return o;
}

rocksdb::DBOptions DbOptions() {
  rocksdb::DBOptions o;
  o.keep_log_file_num = 3;
  o.max_log_file_size = 4 << 20;
  o.max_background_jobs = 2;
  // A crash mid-write leaves at most a torn record at the tail of the log: recover up to it.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  return o;
}

std::string SchemaMessage(const std::string& path, std::uint32_t found) {
  return "history database " + path + " has schema version " + std::to_string(found) +
         ", newer than this weighbridge understands (" + std::to_string(kSchemaVersion) +
         "); use the weighbridge that wrote it, or another history.path";
}

// Reads meta.schema_version: 0 when absent (a new or empty database).
Result<std::uint32_t> ReadSchema(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta) {
  if (meta == nullptr) return std::uint32_t{0};
  std::string v;
  const rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, internal::kMetaSchemaVersion, &v);
  if (s.IsNotFound()) return std::uint32_t{0};
  if (!s.ok()) return FromRocks(s, "reading the schema version");
  if (v.size() != 4) return Status::Error("history: meta.schema_version is malformed");
  return internal::GetBe32(v.data());
}

Status OpenHandles(const std::string& path, bool secondary, const std::string& secondary_dir,
                   History::Handles* h) {
  std::vector<std::string> existing;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &existing);
  if (!s.ok()) {
    if (secondary) {
      return Status::Error("no history database at " + path + " (" + s.ToString() + ")");
    }
    existing = {rocksdb::kDefaultColumnFamilyName};
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const std::string& name : existing) descs.emplace_back(name, CfOptions(name));
  rocksdb::DBOptions options = DbOptions();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (secondary) {
    // A secondary keeps every table file open, so the primary's compactions cannot pull a file
    // from under a running query.
    options.max_open_files = -1;
    s = rocksdb::DB::OpenAsSecondary(options, path, secondary_dir, descs, &handles, &raw);
  } else {
    options.create_if_missing = true;
    s = rocksdb::DB::Open(options, path, descs, &handles, &raw);
  }
  if (!s.ok()) {
    return FromRocks(
        s, std::string(secondary ? "opening history (read-only) " : "opening history ") + path);
  }
  h->db.reset(raw);
  h->owned = handles;
  for (std::size_t i = 0; i < existing.size(); ++i) {
    for (std::size_t c = 0; c < internal::kCfCount; ++c) {
      if (existing[i] == internal::kCfNames[c]) h->cf[c] = handles[i];
    }
  }
  return Status::Ok();
}

}  // namespace

History::~History() {
  handles_.reset();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);  // a leftover temp dir is harmless
  }
}

Result<std::unique_ptr<History>> History::Open(const HistoryOptions& options) {
  if (options.path.empty()) return Status::Error("history: no path given");
  std::unique_ptr<History> h(new History());
  h->path_ = options.path;
  h->handles_ = std::make_unique<Handles>();
  {
    std::error_code ec;
    std::filesystem::create_directories(options.path, ec);
    if (ec) return Status::Error("history: cannot create " + options.path + ": " + ec.message());
  }
  // Only the families already there are opened first, so that a newer schema is refused before
  // anything is added to it.
  if (Status s = OpenHandles(options.path, false, "", h->handles_.get()); !s.ok()) return s;
  Handles& hd = *h->handles_;
  Result<std::uint32_t> version = ReadSchema(hd.db.get(), hd.cf[internal::kMeta]);
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) return Status::Error(SchemaMessage(options.path, *version));
  for (std::size_t c = 0; c < internal::kCfCount; ++c) {
    if (hd.cf[c] != nullptr) continue;
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    const rocksdb::Status s =
        hd.db->CreateColumnFamily(CfOptions(internal::kCfNames[c]), internal::kCfNames[c], &handle);
    if (!s.ok())
      return FromRocks(s, std::string("creating column family ") + internal::kCfNames[c]);
    hd.owned.push_back(handle);
    hd.cf[c] = handle;
  }
  // An older database only gets the version written: 0 is a new one, and 1's values (value
  // version 1) are read as they are. Later migrations go here, each in one WriteBatch with the
  // new version.
  rocksdb::WriteBatch batch;
  std::string v;
  internal::PutBe32(&v, kSchemaVersion);
  rocksdb::Status s = batch.Put(hd.cf[internal::kMeta], internal::kMetaSchemaVersion, v);
  std::string tenants;
  for (const std::string& name : options.tenant_names) {
    internal::PutBe32(&tenants, static_cast<std::uint32_t>(name.size()));
    tenants += name;
  }
  if (s.ok()) s = batch.Put(hd.cf[internal::kMeta], internal::kMetaTenants, tenants);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (s.ok()) s = hd.db->Write(wo, &batch);
  if (!s.ok()) return FromRocks(s, "writing history metadata");
  return h;
}

Result<std::unique_ptr<History>> History::OpenReadOnly(const std::string& path) {
  std::unique_ptr<History> h(new History());
  h->path_ = path;
  h->read_only_ = true;
  h->handles_ = std::make_unique<Handles>();
  if (!std::filesystem::exists(path + "/CURRENT")) {
    return Status::Error("no history database at " + path);
  }
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "weighbridge-history-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status::Error("history: cannot create a temporary directory: " +
                         std::string(std::strerror(errno)));
  }
  h->secondary_dir_ = tmpl;
  if (Status s = OpenHandles(path, true, tmpl, h->handles_.get()); !s.ok()) return s;
  Result<std::uint32_t> version =
      ReadSchema(h->handles_->db.get(), h->handles_->cf[internal::kMeta]);
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) return Status::Error(SchemaMessage(path, *version));
  return h;
}

Status History::CatchUp() {
  if (!read_only_) return Status::Ok();
  return FromRocks(handles_->db->TryCatchUpWithPrimary(), "history: catching up");
}

Status History::OutboxPut(std::string_view key, std::string_view value) {
  if (read_only_) return Status::Error("history: opened read-only");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(
      handles_->db->Put(wo, handles_->cf[internal::kOutbox], rocksdb::Slice(key.data(), key.size()),
                        rocksdb::Slice(value.data(), value.size())),
      "history: outbox put");
}

Status History::OutboxErase(std::string_view key) {
  if (read_only_) return Status::Error("history: opened read-only");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(handles_->db->Delete(wo, handles_->cf[internal::kOutbox],
                                        rocksdb::Slice(key.data(), key.size())),
                   "history: outbox erase");
}

Result<std::vector<std::pair<std::string, std::string>>> History::OutboxLoad() const {
  std::vector<std::pair<std::string, std::string>> out;
  rocksdb::ColumnFamilyHandle* cf = handles_->cf[internal::kOutbox];
  if (cf == nullptr) return out;
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (Status s = FromRocks(it->status(), "history: outbox load"); !s.ok()) return s;
  return out;
}

Status History::PutState(std::string_view name, std::string_view blob) {
  if (read_only_) return Status::Error("history: opened read-only");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(handles_->db->Put(wo, handles_->cf[internal::kState],
                                     rocksdb::Slice(name.data(), name.size()),
                                     rocksdb::Slice(blob.data(), blob.size())),
                   "history: put state");
}

Result<std::optional<std::string>> History::GetState(std::string_view name) const {
  rocksdb::ColumnFamilyHandle* cf = handles_->cf[internal::kState];
  if (cf == nullptr) return std::optional<std::string>();
  std::string v;
  const rocksdb::Status s =
      handles_->db->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(name.data(), name.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "history: get state");
  return std::optional<std::string>(std::move(v));
}

namespace {

// Iterates [lower, upper) of one family; `fn(key, value)` returns false to stop.
template <typename Fn>
Status ScanRange(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& lower,
                 const std::string& upper, Fn&& fn) {
  if (cf == nullptr) return Status::Ok();
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  // A query reads a range once: keep it from evicting the writer's hot blocks.
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const rocksdb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), "history: scan");
}

std::uint64_t MetaU64(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta, const char* key) {
  if (meta == nullptr) return 0;
  std::string v;
  if (!db->Get(rocksdb::ReadOptions(), meta, key, &v).ok() || v.size() != 8) return 0;
  return internal::GetBe64(v.data());
}

Status Corrupt(const char* family, std::string_view key) {
  std::string hex;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : key) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return Status::Error(std::string("history: a malformed record in ") + family + " at key " + hex);
}

}  // namespace

Status History::ScanFlows(TimeRange range,
                          const std::function<bool(const analytics::FlowUpdate&)>& fn) const {
  Status bad;
  Status s = ScanRange(handles_->db.get(), handles_->cf[internal::kFlows],
                       internal::TimeKey(range.since_ns), internal::TimeKey(range.until_ns),
                       [&](std::string_view k, std::string_view v) {
                         analytics::FlowUpdate u;
                         if (!internal::DecodeFlowUpdate(v, &u)) {
                           bad = Corrupt("flows", k);
                           return false;
                         }
                         return fn(u);
                       });
  return s.ok() ? bad : s;
}

Status History::ScanTransfers(TimeRange range,
                              const std::function<bool(const analytics::Transfer&)>& fn) const {
  // Keyed by first time: a transfer that overlaps the range started at most the longest span
  // ever written before it.
  const auto max_span = static_cast<std::int64_t>(std::min<std::uint64_t>(
      MetaU64(handles_->db.get(), handles_->cf[internal::kMeta], internal::kMetaMaxTransferSpanNs),
      static_cast<std::uint64_t>(kMaxTime)));
  Status bad;
  Status s =
      ScanRange(handles_->db.get(), handles_->cf[internal::kTransfers],
                internal::TimeKey(SatAdd(range.since_ns, -max_span)),
                internal::TimeKey(range.until_ns), [&](std::string_view k, std::string_view v) {
                  analytics::Transfer t;
                  if (!internal::DecodeTransfer(v, &t)) {
                    bad = Corrupt("transfers", k);
                    return false;
                  }
                  if (t.last.ns < range.since_ns) return true;
                  return fn(t);
                });
  return s.ok() ? bad : s;
}

Status History::ScanAlerts(TimeRange range,
                           const std::function<bool(const analytics::Alert&)>& fn) const {
  // Keyed by last_seen: an alert version that overlaps the range ends at most the longest span
  // after the range's end.
  const auto max_span = static_cast<std::int64_t>(std::min<std::uint64_t>(
      MetaU64(handles_->db.get(), handles_->cf[internal::kMeta], internal::kMetaMaxAlertSpanNs),
      static_cast<std::uint64_t>(kMaxTime)));
  Status bad;
  const std::int64_t upper = SatAdd(range.until_ns, max_span);
  Status s = ScanRange(
      handles_->db.get(), handles_->cf[internal::kAlerts], internal::TimeKey(range.since_ns),
      upper == kMaxTime ? std::string(internal::kAlertKeySize, '\xff') : internal::TimeKey(upper),
      [&](std::string_view k, std::string_view v) {
        analytics::Alert a;
        if (!internal::DecodeAlert(v, &a)) {
          bad = Corrupt("alerts", k);
          return false;
        }
        if (a.first_seen.ns >= range.until_ns) return true;
        return fn(a);
      });
  return s.ok() ? bad : s;
}

Status History::ScanRollups(RollupStep step, TimeRange range,
                            const std::function<bool(const RollupRecord&)>& fn) const {
  Status bad;
  Status s = ScanRange(
      handles_->db.get(), handles_->cf[internal::kRollups],
      internal::RollupTimeKey(step, range.since_ns), internal::RollupTimeKey(step, range.until_ns),
      [&](std::string_view k, std::string_view v) {
        RollupRecord r;
        if (!internal::ParseRollupKey(k, &r.step, &r.minute_ns, &r.entity, &r.subject) ||
            !internal::DecodeRollup(v, &r.tenant, &r.counters)) {
          bad = Corrupt("rollups", k);
          return false;
        }
        return fn(r);
      });
  return s.ok() ? bad : s;
}

Result<std::optional<std::int64_t>> History::NewestStreamTime() const {
  rocksdb::ColumnFamilyHandle* meta = handles_->cf[internal::kMeta];
  if (meta == nullptr) return std::optional<std::int64_t>();
  std::string v;
  const rocksdb::Status s =
      handles_->db->Get(rocksdb::ReadOptions(), meta, internal::kMetaNewestStreamNs, &v);
  if (s.IsNotFound()) return std::optional<std::int64_t>();
  if (!s.ok()) return FromRocks(s, "history: newest stream time");
  if (v.size() != 8) return Status::Error("history: meta.newest_stream_ns is malformed");
  return std::optional<std::int64_t>(internal::GetTime(v.data()));
}

Result<std::vector<std::string>> History::TenantNames() const {
  std::vector<std::string> out;
  rocksdb::ColumnFamilyHandle* meta = handles_->cf[internal::kMeta];
  if (meta == nullptr) return out;
  std::string v;
  const rocksdb::Status s =
      handles_->db->Get(rocksdb::ReadOptions(), meta, internal::kMetaTenants, &v);
  if (s.IsNotFound()) return out;
  if (!s.ok()) return FromRocks(s, "history: tenant names");
  std::size_t pos = 0;
  while (pos < v.size()) {
    if (v.size() - pos < 4) return Status::Error("history: meta.tenants is malformed");
    const std::uint32_t n = internal::GetBe32(v.data() + pos);
    pos += 4;
    if (n > v.size() - pos) return Status::Error("history: meta.tenants is malformed");
    out.emplace_back(v.data() + pos, n);
    pos += n;
  }
  return out;
}

std::uint64_t History::ApproximateSizeBytes() const {
  std::uint64_t sst = 0;
  handles_->db->GetAggregatedIntProperty("rocksdb.total-sst-files-size", &sst);
  std::uint64_t wal = 0;
  handles_->db->GetIntProperty("rocksdb.live-wal-files-size", &wal);  // absent in old versions
  return sst + wal;
}

Status History::CompactAll() {
  if (read_only_) return Status::Error("history: opened read-only");
  for (rocksdb::ColumnFamilyHandle* cf : handles_->cf) {
    if (cf == nullptr) continue;
    rocksdb::Status s = handles_->db->Flush(rocksdb::FlushOptions(), cf);
    if (s.ok())
      s = handles_->db->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "history: compacting");
  }
  return Status::Ok();
}

namespace {

// Deletes [lower, upper) of one family: whole table files first (instant, frees the space),
// then a range tombstone for what straddles the edge.
Status DeleteRange(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& lower,
                   const std::string& upper) {
  const rocksdb::Slice lo(lower);
  const rocksdb::Slice hi(upper);
  rocksdb::Status s = rocksdb::DeleteFilesInRange(db, cf, &lo, &hi, /*include_end=*/false);
  if (!s.ok()) return FromRocks(s, "history: deleting old files");
  rocksdb::WriteOptions wo;
  s = db->DeleteRange(wo, cf, lo, hi);
  return FromRocks(s, "history: range deletion");
}

// The time of the first key of a time-keyed family (after `prefix`), if any.
std::optional<std::int64_t> FirstTime(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                      const std::string& prefix) {
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  it->Seek(prefix);
  if (!it->Valid() || it->key().size() < prefix.size() + 8 ||
      !it->key().starts_with(rocksdb::Slice(prefix))) {
    return std::nullopt;
  }
  return internal::GetTime(it->key().data() + prefix.size());
}

}  // namespace

Status History::ApplyRetention(const HistoryOptions& options, std::int64_t now_ns) {
  if (read_only_) return Status::Error("history: opened read-only");
  rocksdb::DB* db = handles_->db.get();
  struct Family {
    Cf cf;
    std::int64_t retention_ns;
  };
  for (const Family& f : {Family{internal::kFlows, options.flows_retention_ns},
                          Family{internal::kTransfers, options.transfers_retention_ns},
                          Family{internal::kAlerts, options.alerts_retention_ns}}) {
    if (f.retention_ns <= 0) continue;
    const std::int64_t cutoff = SatAdd(now_ns, -f.retention_ns);
    const std::optional<std::int64_t> first = FirstTime(db, handles_->cf[f.cf], "");
    if (!first || *first >= cutoff) continue;  // nothing old: no tombstone
    if (Status s = DeleteRange(db, handles_->cf[f.cf], internal::TimeKey(kMinTime),
                               internal::TimeKey(cutoff));
        !s.ok()) {
      return s;
    }
  }
  if (options.rollups_retention_ns > 0) {
    const std::int64_t cutoff = SatAdd(now_ns, -options.rollups_retention_ns);
    for (RollupStep step : {RollupStep::kMinute, RollupStep::kHour}) {
      const std::string prefix(1, static_cast<char>(step));
      const std::optional<std::int64_t> first =
          FirstTime(db, handles_->cf[internal::kRollups], prefix);
      if (!first || *first >= cutoff) continue;
      if (Status s = DeleteRange(db, handles_->cf[internal::kRollups],
                                 internal::RollupTimeKey(step, kMinTime),
                                 internal::RollupTimeKey(step, cutoff));
          !s.ok()) {
        return s;
      }
    }
  }
  if (options.size_budget_bytes == 0) return Status::Ok();
  // Over the budget: drop the oldest hour of flows (then of minute rollups) and compact it away
  // so that the size really falls; a later call drops another hour if it is still over.
  std::uint64_t sst = 0;
  db->GetAggregatedIntProperty("rocksdb.total-sst-files-size", &sst);
  if (sst <= options.size_budget_bytes) return Status::Ok();
  constexpr std::int64_t kChunkNs = 3600 * kNanosPerSecond;
  struct Victim {
    Cf cf;
    std::string prefix;
  };
  for (const Victim& v :
       {Victim{internal::kFlows, ""}, Victim{internal::kRollups, std::string(1, '\0')}}) {
    const std::optional<std::int64_t> first = FirstTime(db, handles_->cf[v.cf], v.prefix);
    if (!first) continue;
    // Never the newest hour: the budget must not empty what is being written.
    const std::int64_t end = std::min(SatAdd(*first, kChunkNs), SatAdd(now_ns, -kChunkNs));
    if (end <= *first) continue;
    std::string lo = v.prefix + internal::TimeKey(kMinTime);
    std::string hi = v.prefix + internal::TimeKey(end);
    if (Status s = DeleteRange(db, handles_->cf[v.cf], lo, hi); !s.ok()) return s;
    const rocksdb::Slice lo_s(lo);
    const rocksdb::Slice hi_s(hi);
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    return FromRocks(db->CompactRange(co, handles_->cf[v.cf], &lo_s, &hi_s),
                     "history: compacting for the size budget");
  }
  return Status::Ok();
}

}  // namespace weighbridge::store
