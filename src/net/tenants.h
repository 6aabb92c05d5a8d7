// The server's clients as it counts them: one Tenant per API key, or one
// anonymous tenant when the server has no keys. Internal to src/net.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/api_keys.h"
#include "net/server.h"
#include "net/token_bucket.h"

namespace fhellm::net {

class SessionStore;

struct Tenant {
  Tenant(std::string name, KeyLimits limits);

  // Takes one of the tenant's session places; false when all are taken.
  bool try_add_session() noexcept;
  void remove_session() noexcept { sessions.fetch_sub(1); }
  // The key's counters; its sessions and session memory come from the
  // session store (Tenants::metrics).
  KeyMetrics metrics() const;

  const std::string name;
  const KeyLimits limits;    // resolved: 0 means unlimited
  TokenBucket requests;      // limits.requests_per_second, one second of burst
  TokenBucket rows;          // limits.rows_per_hour spread over the hour, an hour of burst
  std::atomic<std::uint32_t> sessions{0};
  std::atomic<std::uint64_t> session_bytes{0};
  std::atomic<std::uint64_t> n_requests{0}, n_rows{0}, n_rate_limited{0};
};

class Tenants {
 public:
  // `keys` null or empty: one anonymous tenant with `defaults`.
  Tenants(std::shared_ptr<const ApiKeyStore> keys, KeyLimits defaults);

  bool keys_required() const noexcept { return keys_ != nullptr; }
  // The tenant of an Authorization header ("Bearer KEY"), or nullptr when
  // keys are required and the header holds no valid key.
  Tenant* authenticate(std::string_view authorization) const;
  // By key name (the anonymous tenant for any name when no keys are set).
  Tenant* by_name(const std::string& name) const;
  // Every key's figures, its sessions and session memory from `store` (a
  // shared store keeps them, not this process's counters).
  std::vector<KeyMetrics> metrics(SessionStore& store) const;

 private:
  std::shared_ptr<const ApiKeyStore> keys_;
  std::vector<std::unique_ptr<Tenant>> tenants_;
  std::map<std::string, Tenant*, std::less<>> by_id_;
};

}  // namespace fhellm::net
