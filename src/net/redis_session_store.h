// Sessions in Redis, shared by every replica of one model: any replica serves
// any call of any session (docs/deploy.md).
//
// In Redis, per session, a hash fhellm:M:s:ID (M: a hash of the model's
// description, so replicas of other models never share sessions) holds the
// owner (the API key's name), the last accepted sequence number and the
// client's evaluation keys as uploaded; it expires after the idle timeout,
// renewed by every accepted call. Sorted sets fhellm:M:live and
// fhellm:M:k:OWNER (id -> deadline) count the open sessions for the server's
// and the key's session limits. Every change is one Lua script, atomic in
// Redis: the limits are checked where the session is added, and a call's
// sequence number is claimed (compared and set) before the call is evaluated,
// so a number is evaluated at most once by all replicas together: a replayed
// call is refused by every replica.
//
// Each replica keeps the keys it parsed in a PreparedKeyCache (LRU under
// `cache_bytes`, reserved from the memory budget) and loads them from Redis
// on a miss. Redis unreachable: RetryLater(server_busy), which clients retry.
#pragma once

#include <memory>
#include <string>

#include "hybrid/remote_service.h"
#include "net/memory_budget.h"
#include "net/memory_session_store.h"
#include "net/prepared_key_cache.h"
#include "net/redis_client.h"
#include "net/session_store.h"

namespace fhellm::net {

struct RedisStoreConfig {
  std::string url;  // redis://[[USER]:PASSWORD@]HOST:PORT[/DB]
  SessionLimits limits;
  std::uint64_t cache_bytes = 1ull << 30;
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // connect, and each command
};

class RedisSessionStore final : public SessionStore {
 public:
  // @throws Error(invalid_argument) for a bad URL, Error(io_error) when Redis
  //         cannot be reached (or refuses the password or the DB).
  RedisSessionStore(hybrid::RemoteService& service, RedisStoreConfig config, std::shared_ptr<MemoryBudget> budget);

  std::uint64_t open(Tenant& owner, ByteView evaluation_keys, std::uint64_t sequence) override;
  void call(std::uint64_t id, Tenant& owner, std::uint64_t sequence, const Work& work) override;
  void close(std::uint64_t id, Tenant& owner, std::uint64_t sequence) override;
  std::uint64_t expire_idle() override;
  std::uint64_t count() override;
  SessionStoreMetrics metrics() override;
  OwnerSessionMetrics owner_metrics(const Tenant& owner) override;
  void drop_all() override;

 private:
  std::string session_key(std::uint64_t id) const;
  std::string owner_key(const std::string& owner) const;
  std::uint64_t owner_cap(const Tenant& owner) const;
  void check_room(const Tenant& owner);
  std::shared_ptr<PreparedKeys> prepare(const std::string& owner, ByteView evaluation_keys);
  std::shared_ptr<PreparedKeys> load(std::uint64_t id, const Tenant& owner);
  // The claim script: 1 accepted, -1 unknown (or another owner's), -2 not above the last.
  void claim(std::uint64_t id, const Tenant& owner, std::uint64_t sequence, bool close);

  hybrid::RemoteService& service_;
  RedisStoreConfig config_;
  RedisClient redis_;
  PreparedKeyCache cache_;
  std::string prefix_;  // "fhellm:M:"
  std::string ttl_ms_;
};

}  // namespace fhellm::net
