// One replica's copies of sessions' prepared keys (the parsed evaluation
// keys, what a call needs) for sessions kept in a shared store: least
// recently used first out, under a byte budget. Each entry's bytes are also
// reserved from the server's memory budget for as long as the entry lives
// (a call in flight keeps an evicted entry alive). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "hybrid/remote_service.h"
#include "net/memory_budget.h"

namespace fhellm::net {

struct PreparedKeys {
  std::string owner;  // the tenant's name
  std::unique_ptr<hybrid::RemoteSession> state;
  Reservation memory;
  std::mutex mutex;  // one call at a time on this replica
  std::atomic<std::int64_t> last_used_ns{0};
};

class PreparedKeyCache {
 public:
  PreparedKeyCache(std::uint64_t limit_bytes, std::shared_ptr<MemoryBudget> budget);

  // The entry of session `id`, or null; counts a hit or a miss.
  std::shared_ptr<PreparedKeys> find(std::uint64_t id);

  // Reserves `bytes` for an entry about to be made: evicts the least recently
  // used entries until they fit under the cache's limit and the memory budget.
  // @throws RetryLater(server_busy) when the memory budget is full even so;
  //         Error(session_limit) when one entry is larger than the cache.
  Reservation reserve(std::uint64_t bytes);

  // Keeps `entry` as session `id`'s (replacing any other).
  void insert(std::uint64_t id, std::shared_ptr<PreparedKeys> entry);
  void erase(std::uint64_t id);
  // Drops entries unused for `idle` (their sessions expire in the store too).
  void drop_idle(std::chrono::nanoseconds idle);
  void clear();

  std::uint64_t bytes() const noexcept { return bytes_.load(); }
  // The bytes of the entries of one owner.
  std::uint64_t bytes_of(const std::string& owner) const;
  std::uint64_t limit() const noexcept { return limit_; }
  std::uint64_t hits() const noexcept { return hits_.load(); }
  std::uint64_t misses() const noexcept { return misses_.load(); }
  std::uint64_t evictions() const noexcept { return evictions_.load(); }

 private:
  bool evict_one();  // the least recently used; false when empty (lock held)
  void remove(std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator>::iterator);
  const std::uint64_t limit_;
  std::shared_ptr<MemoryBudget> budget_;
  mutable std::mutex mutex_;
  std::list<std::uint64_t> order_;  // most recently used first
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where_;
  std::unordered_map<std::uint64_t, std::shared_ptr<PreparedKeys>> entries_;
  std::atomic<std::uint64_t> bytes_{0}, hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace fhellm::net
