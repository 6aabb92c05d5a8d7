// Sessions in this process's memory: the default store of one machine. Each
// session's counted memory is reserved from the server's budget for its life;
// idle sessions are ended by expire_idle().
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "hybrid/remote_service.h"
#include "net/memory_budget.h"
#include "net/session_store.h"

namespace fhellm::net {

struct SessionLimits {
  std::size_t max_sessions = 64;                 // all owners together
  std::uint64_t max_session_bytes = 1ull << 30;  // counted memory of one session
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
};

class MemorySessionStore final : public SessionStore {
 public:
  // `service` parses the keys and prices them; it must outlive the store.
  MemorySessionStore(hybrid::RemoteService& service, SessionLimits limits, std::shared_ptr<MemoryBudget> budget);
  ~MemorySessionStore() override;

  std::uint64_t open(Tenant& owner, ByteView evaluation_keys, std::uint64_t sequence) override;
  void call(std::uint64_t id, Tenant& owner, std::uint64_t sequence, const Work& work) override;
  void close(std::uint64_t id, Tenant& owner, std::uint64_t sequence) override;
  std::uint64_t expire_idle() override;
  std::uint64_t count() override;
  SessionStoreMetrics metrics() override;
  OwnerSessionMetrics owner_metrics(const Tenant& owner) override;
  void drop_all() override;

 private:
  struct Slot;
  std::shared_ptr<Slot> find(std::uint64_t id, const Tenant& caller);
  std::unique_lock<std::mutex> enter(Slot& slot, std::uint64_t sequence);
  void end(Slot& slot);

  hybrid::RemoteService& service_;
  const SessionLimits limits_;
  std::shared_ptr<MemoryBudget> budget_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Slot>> sessions_;
  std::atomic<std::uint64_t> bytes_{0};
};

// A random non-zero 64-bit session id (OpenSSL RAND_bytes).
std::uint64_t random_session_id();

}  // namespace fhellm::net
