#include "net/tenants.h"

#include "net/session_store.h"

namespace fhellm::net {

namespace {

KeyLimits resolve(KeyLimits own, const KeyLimits& defaults) {
  if (own.sessions == 0) own.sessions = defaults.sessions;
  if (own.requests_per_second == 0) own.requests_per_second = defaults.requests_per_second;
  if (own.rows_per_hour == 0) own.rows_per_hour = defaults.rows_per_hour;
  return own;
}

}  // namespace

Tenant::Tenant(std::string n, KeyLimits l)
    : name(std::move(n)),
      limits(l),
      requests(l.requests_per_second, l.requests_per_second),
      rows(static_cast<double>(l.rows_per_hour) / 3600.0, static_cast<double>(l.rows_per_hour)) {}

bool Tenant::try_add_session() noexcept {
  std::uint32_t n = sessions.load();
  do {
    if (limits.sessions != 0 && n >= limits.sessions) return false;
  } while (!sessions.compare_exchange_weak(n, n + 1));
  return true;
}

KeyMetrics Tenant::metrics() const {
  KeyMetrics m;
  m.name = name;
  m.limits = limits;
  m.requests = n_requests.load();
  m.rows = n_rows.load();
  m.rate_limited = n_rate_limited.load();
  return m;
}

Tenants::Tenants(std::shared_ptr<const ApiKeyStore> keys, KeyLimits defaults) {
  if (keys && !keys->empty()) keys_ = std::move(keys);
  if (!keys_) {
    // Every local client is this one tenant: its sessions are bounded by the
    // server's max_sessions only; the rates are the defaults.
    KeyLimits anonymous = defaults;
    anonymous.sessions = 0;
    tenants_.push_back(std::make_unique<Tenant>("anonymous", anonymous));
    return;
  }
  for (const ApiKeyEntry& e : keys_->entries()) {
    tenants_.push_back(std::make_unique<Tenant>(e.name, resolve(e.limits, defaults)));
    by_id_.emplace(e.id, tenants_.back().get());
  }
}

Tenant* Tenants::authenticate(std::string_view authorization) const {
  if (!keys_) return tenants_.front().get();
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.substr(0, kBearer.size()) != kBearer) return nullptr;
  const ApiKeyEntry* e = keys_->verify(authorization.substr(kBearer.size()));
  if (e == nullptr) return nullptr;
  auto it = by_id_.find(e->id);
  return it == by_id_.end() ? nullptr : it->second;
}

Tenant* Tenants::by_name(const std::string& name) const {
  if (!keys_) return tenants_.front().get();
  for (const auto& t : tenants_)
    if (t->name == name) return t.get();
  return nullptr;
}

std::vector<KeyMetrics> Tenants::metrics(SessionStore& store) const {
  std::vector<KeyMetrics> out;
  for (const auto& t : tenants_) {
    KeyMetrics m = t->metrics();
    const OwnerSessionMetrics o = store.owner_metrics(*t);
    m.sessions = o.sessions;
    m.session_memory_bytes = o.memory_bytes;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace fhellm::net
