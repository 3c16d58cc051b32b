// The alert outbox: where a delivery is written before anyone is told about it, so that a
// receiver outage or a restart only delays it (ARCHITECTURE.md, "Outputs").
//
// alerting/ does not know which store keeps the records: app/ passes an implementation (the
// history store's outbox, or the in-memory one below when there is no history).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weighbridge/core/result.h"

namespace weighbridge::alerting {

// A small durable key-value map. Implementations must be safe to call from two threads at once
// (the notifier writes from the caller of Enqueue and from its own delivery thread). Put and
// Erase must be durable when they return ok: that is the at-least-once guarantee.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  virtual Status Put(std::string_view key, std::string_view value) = 0;
  virtual Status Erase(std::string_view key) = 0;
  // Every record, ordered by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> LoadAll() = 0;
};

// Keeps the records in memory: deliveries survive receiver outages but not a restart. For a
// sensor without a history store, and for tests.
class MemoryOutboxStore : public OutboxStore {
 public:
  Status Put(std::string_view key, std::string_view value) override;
  Status Erase(std::string_view key) override;
  Result<std::vector<std::pair<std::string, std::string>>> LoadAll() override;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> records_;
};

}  // namespace weighbridge::alerting
