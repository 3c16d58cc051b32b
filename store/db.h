// The RocksDB handles behind a History, shared by history.cc and writer.cc.
#pragma once

#include <rocksdb/db.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "weighbridge/store/history.h"

namespace weighbridge::store {

namespace internal {

enum Cf : std::size_t { kFlows, kTransfers, kAlerts, kRollups, kState, kOutbox, kMeta, kCfCount };
inline constexpr std::array<const char*, kCfCount> kCfNames = {
    "flows", "transfers", "alerts", "rollups", "state", "outbox", "meta"};

// Keys of the meta family.
inline constexpr const char* kMetaSchemaVersion = "schema_version";            // BE32
inline constexpr const char* kMetaNewestStreamNs = "newest_stream_ns";         // PutTime
inline constexpr const char* kMetaMaxTransferSpanNs = "max_transfer_span_ns";  // BE64
inline constexpr const char* kMetaMaxAlertSpanNs = "max_alert_span_ns";        // BE64
inline constexpr const char* kMetaTenants = "tenants";  // (BE32 length, bytes) per name

Status FromRocks(const rocksdb::Status& s, const std::string& what);

}  // namespace internal

struct History::Handles {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> owned;                    // destroyed before db
  std::array<rocksdb::ColumnFamilyHandle*, internal::kCfCount> cf{};  // null: absent (read-only)
  ~Handles();
};

}  // namespace weighbridge::store
