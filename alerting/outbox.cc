#include "weighbridge/alerting/outbox.h"

namespace weighbridge::alerting {

Status MemoryOutboxStore::Put(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  records_.insert_or_assign(std::string(key), std::string(value));
  return Status::Ok();
}

Status MemoryOutboxStore::Erase(std::string_view key) {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(key); it != records_.end()) records_.erase(it);
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::string>>> MemoryOutboxStore::LoadAll() {
  std::lock_guard lock(mu_);
  return std::vector<std::pair<std::string, std::string>>(records_.begin(), records_.end());
}

std::size_t MemoryOutboxStore::size() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

}  // namespace weighbridge::alerting
