#include "net/prepared_key_cache.h"

#include "net/retry_later.h"

namespace fhellm::net {

namespace {
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

PreparedKeyCache::PreparedKeyCache(std::uint64_t limit_bytes, std::shared_ptr<MemoryBudget> budget)
    : limit_(limit_bytes), budget_(std::move(budget)) {}

std::shared_ptr<PreparedKeys> PreparedKeyCache::find(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = where_.find(id);
  if (it == where_.end()) {
    misses_.fetch_add(1);
    return nullptr;
  }
  hits_.fetch_add(1);
  order_.splice(order_.begin(), order_, it->second);
  auto entry = entries_.at(id);
  entry->last_used_ns.store(now_ns());
  return entry;
}

void PreparedKeyCache::remove(std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator>::iterator it) {
  const std::uint64_t id = it->first;
  order_.erase(it->second);
  where_.erase(it);
  auto e = entries_.find(id);
  bytes_.fetch_sub(e->second->memory.bytes());
  entries_.erase(e);  // its memory goes back when the last call using it ends
}

bool PreparedKeyCache::evict_one() {
  if (order_.empty()) return false;
  remove(where_.find(order_.back()));
  evictions_.fetch_add(1);
  return true;
}

Reservation PreparedKeyCache::reserve(std::uint64_t bytes) {
  require(bytes <= limit_, ErrorCode::session_limit,
          "a session's prepared keys (" + std::to_string(bytes) + " bytes) exceed the key cache (" +
              std::to_string(limit_) + " bytes, --key-cache-mb)");
  std::lock_guard lock(mutex_);
  while (bytes_.load() + bytes > limit_ && evict_one()) {
  }
  while (true) {
    if (std::optional<Reservation> r = budget_->try_reserve(bytes)) return std::move(*r);
    if (!evict_one()) break;
  }
  throw RetryLater(ErrorCode::server_busy,
                   "server memory budget full (" + std::to_string(budget_->used()) + " of " +
                       std::to_string(budget_->limit()) + " bytes held)",
                   std::chrono::seconds(5));
}

void PreparedKeyCache::insert(std::uint64_t id, std::shared_ptr<PreparedKeys> entry) {
  std::lock_guard lock(mutex_);
  if (auto it = where_.find(id); it != where_.end()) remove(it);
  entry->last_used_ns.store(now_ns());
  bytes_.fetch_add(entry->memory.bytes());
  order_.push_front(id);
  where_.emplace(id, order_.begin());
  entries_.emplace(id, std::move(entry));
}

std::uint64_t PreparedKeyCache::bytes_of(const std::string& owner) const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [id, entry] : entries_)
    if (entry->owner == owner) total += entry->memory.bytes();
  return total;
}

void PreparedKeyCache::erase(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (auto it = where_.find(id); it != where_.end()) remove(it);
}

void PreparedKeyCache::drop_idle(std::chrono::nanoseconds idle) {
  const std::int64_t before = now_ns() - idle.count();
  std::lock_guard lock(mutex_);
  while (!order_.empty() && entries_.at(order_.back())->last_used_ns.load() < before) {
    remove(where_.find(order_.back()));
  }
}

void PreparedKeyCache::clear() {
  std::lock_guard lock(mutex_);
  while (!order_.empty()) remove(where_.find(order_.back()));
}

}  // namespace fhellm::net
