// Where a server keeps its sessions (the client's parsed evaluation keys, the
// last sequence number accepted, the owner, the idle deadline). The server
// (server.h) talks to this interface only:
//  - MemorySessionStore (memory_session_store.h): in this process, the
//    default for one machine;
//  - RedisSessionStore (redis_session_store.h): in Redis, shared by every
//    replica behind a load balancer, with a per-replica cache of the
//    prepared keys.
// Both refuse, with the same codes: a session of another owner or none
// (unknown_session, the same answer, so ids are not probed), a sequence number
// not above the last accepted (replayed_message), a second call of a session
// while one runs in this process (server_busy), more sessions than the
// server's or the owner's limit (session_limit), memory over the budget
// (server_busy).
#pragma once

#include <cstdint>
#include <functional>

#include "common/bytes.h"
#include "hybrid/remote_service.h"

namespace fhellm::net {

struct Tenant;

struct SessionStoreMetrics {
  std::uint64_t sessions = 0;      // open sessions (a shared store: every replica's)
  std::uint64_t memory_bytes = 0;  // prepared keys this process holds
  // A shared store's cache of prepared keys: calls that found them, calls
  // that loaded them from the store, entries dropped for the byte budget.
  std::uint64_t cache_hits = 0, cache_misses = 0, cache_evictions = 0;
  std::uint64_t cache_limit_bytes = 0;
};

// One owner's (API key's) share of the store.
struct OwnerSessionMetrics {
  std::uint64_t sessions = 0;      // open sessions (a shared store: on every replica)
  std::uint64_t memory_bytes = 0;  // prepared keys this process holds for them
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // A new session of `owner` from the client's public evaluation keys, with
  // `sequence` as its last accepted number; returns its random id.
  // @throws Error(session_limit), RetryLater(server_busy), the keys' format codes.
  virtual std::uint64_t open(Tenant& owner, ByteView evaluation_keys, std::uint64_t sequence) = 0;

  using Work = std::function<void(hybrid::RemoteSession&)>;
  // Runs `work` on the session's prepared keys as its message `sequence`.
  // The in-memory store accepts the number when `work` returns (a failed
  // call does not spend it); a shared store claims it atomically before
  // `work` runs, so two replicas never evaluate one number.
  // @throws Error(unknown_session | replayed_message), RetryLater(server_busy), what `work` throws.
  virtual void call(std::uint64_t id, Tenant& owner, std::uint64_t sequence, const Work& work) = 0;

  // Ends the session (`sequence` above the last, 2^64 - 1 allowed).
  // @throws Error(unknown_session | replayed_message), RetryLater(server_busy).
  virtual void close(std::uint64_t id, Tenant& owner, std::uint64_t sequence) = 0;

  // Ends the sessions idle past the timeout that this process must end
  // itself (a shared store's entries expire in the store); returns how many.
  virtual std::uint64_t expire_idle() = 0;

  // Open sessions. @throws RetryLater(server_busy) when a shared store is unreachable.
  virtual std::uint64_t count() = 0;
  // Never throws (a shared store's session count is 0 when unreachable).
  virtual SessionStoreMetrics metrics() = 0;
  // The same figures for one owner. Never throws (as metrics()).
  virtual OwnerSessionMetrics owner_metrics(const Tenant& owner) = 0;

  // Frees what this process holds (at stop); a shared store keeps its sessions.
  virtual void drop_all() = 0;
};

}  // namespace fhellm::net
