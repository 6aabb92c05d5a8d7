#include "net/memory_session_store.h"

#include <openssl/rand.h>

#include <atomic>

#include "net/retry_later.h"
#include "net/tenants.h"

namespace fhellm::net {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

std::uint64_t random_session_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    require(RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) == 1, ErrorCode::internal_error,
            "server: OpenSSL RAND_bytes failed");
  }
  return id;
}

// One client's state. `mutex` serializes its calls (the RemoteSession is
// mutable and the sequence check must be atomic with the call).
struct MemorySessionStore::Slot {
  Tenant* owner = nullptr;
  std::unique_ptr<hybrid::RemoteSession> state;
  Reservation memory;  // the session's counted bytes, held against the server's budget
  std::mutex mutex;
  std::uint64_t last_sequence = 0;  // guarded by mutex
  std::atomic<Clock::rep> last_used{0};
  bool closed = false;  // guarded by mutex

  void accept(std::uint64_t sequence) {
    last_sequence = sequence;
    last_used.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
};

MemorySessionStore::MemorySessionStore(hybrid::RemoteService& service, SessionLimits limits,
                                       std::shared_ptr<MemoryBudget> budget)
    : service_(service), limits_(limits), budget_(std::move(budget)) {}

MemorySessionStore::~MemorySessionStore() { drop_all(); }

std::shared_ptr<MemorySessionStore::Slot> MemorySessionStore::find(std::uint64_t id, const Tenant& caller) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  // Another key's session answers exactly as a missing one: ids are not probed.
  require(it != sessions_.end() && it->second->owner == &caller, ErrorCode::unknown_session,
          "no open session with this id for this key (never opened, closed, or expired after idling)");
  return it->second;
}

// Locks the session for one message; checks (does not consume) the sequence number.
std::unique_lock<std::mutex> MemorySessionStore::enter(Slot& slot, std::uint64_t sequence) {
  std::unique_lock lock(slot.mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    throw RetryLater(ErrorCode::server_busy, "this session is evaluating another call (one at a time)",
                     std::chrono::seconds(1));
  }
  require(!slot.closed, ErrorCode::unknown_session, "session was closed or expired");
  require(sequence > slot.last_sequence, ErrorCode::replayed_message,
          "sequence number " + std::to_string(sequence) + " is not above the last accepted (" +
              std::to_string(slot.last_sequence) + ")");
  return lock;
}

// Frees a session's state and gives its places back (slot locked by the caller).
void MemorySessionStore::end(Slot& slot) {
  slot.closed = true;
  slot.state.reset();
  slot.owner->session_bytes.fetch_sub(slot.memory.bytes());
  bytes_.fetch_sub(slot.memory.bytes());
  slot.memory.release();
  slot.owner->remove_session();
}

std::uint64_t MemorySessionStore::open(Tenant& tenant, ByteView evaluation_keys, std::uint64_t sequence) {
  {
    std::lock_guard lock(mutex_);
    require(sessions_.size() < limits_.max_sessions, ErrorCode::session_limit,
            "server holds " + std::to_string(sessions_.size()) + " sessions, its limit");
  }
  require(tenant.try_add_session(), ErrorCode::session_limit,
          "key '" + tenant.name + "' holds " + std::to_string(tenant.limits.sessions) + " sessions, its limit");
  struct Undo {
    Tenant* t;
    ~Undo() {
      if (t) t->remove_session();
    }
  } undo{&tenant};
  // The session's memory, from a cheap look at the keys, before parsing them.
  const std::uint64_t memory = service_.session_memory_bytes(evaluation_keys);
  require(memory <= limits_.max_session_bytes, ErrorCode::session_limit,
          "session would hold " + std::to_string(memory) + " bytes of server memory, limit " +
              std::to_string(limits_.max_session_bytes));
  std::optional<Reservation> reserved = budget_->try_reserve(memory);
  if (!reserved) {
    throw RetryLater(ErrorCode::server_busy,
                     "server memory budget full (" + std::to_string(budget_->used()) + " of " +
                         std::to_string(budget_->limit()) + " bytes held)",
                     std::chrono::seconds(5));
  }
  auto slot = std::make_shared<Slot>();
  slot->owner = &tenant;
  slot->state = service_.open_session(evaluation_keys);
  const std::uint64_t held = slot->state->memory_bytes();
  require(held <= reserved->bytes(), ErrorCode::internal_error,
          "session holds " + std::to_string(held) + " bytes, " + std::to_string(reserved->bytes()) + " reserved");
  slot->memory = std::move(*reserved);
  slot->accept(sequence);
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    require(sessions_.size() < limits_.max_sessions, ErrorCode::session_limit,
            "server holds " + std::to_string(sessions_.size()) + " sessions, its limit");
    do {
      id = random_session_id();
    } while (sessions_.count(id) != 0);
    sessions_.emplace(id, slot);
  }
  undo.t = nullptr;
  tenant.session_bytes.fetch_add(slot->memory.bytes());
  bytes_.fetch_add(slot->memory.bytes());
  return id;
}

void MemorySessionStore::call(std::uint64_t id, Tenant& owner, std::uint64_t sequence, const Work& work) {
  auto slot = find(id, owner);
  auto lock = enter(*slot, sequence);
  work(*slot->state);
  slot->accept(sequence);
}

void MemorySessionStore::close(std::uint64_t id, Tenant& owner, std::uint64_t sequence) {
  auto slot = find(id, owner);
  {
    auto lock = enter(*slot, sequence);
    slot->accept(sequence);
    end(*slot);
  }
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

std::uint64_t MemorySessionStore::expire_idle() {
  const auto now = Clock::now().time_since_epoch().count();
  const auto limit = std::chrono::duration_cast<Clock::duration>(limits_.idle_timeout).count();
  std::vector<std::shared_ptr<Slot>> dropped;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (now - it->second->last_used.load(std::memory_order_relaxed) > limit) {
        dropped.push_back(it->second);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Free the keys outside the registry lock; a call in flight holds the
  // slot's lock, finishes, and the session ends after it.
  for (auto& slot : dropped) {
    std::lock_guard lock(slot->mutex);
    if (!slot->closed) end(*slot);
  }
  return dropped.size();
}

std::uint64_t MemorySessionStore::count() {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

SessionStoreMetrics MemorySessionStore::metrics() {
  SessionStoreMetrics m;
  m.sessions = count();
  m.memory_bytes = bytes_.load();
  return m;
}

// The tenant's own counters: this store keeps them as sessions open and close.
OwnerSessionMetrics MemorySessionStore::owner_metrics(const Tenant& owner) {
  return {owner.sessions.load(), owner.session_bytes.load()};
}

void MemorySessionStore::drop_all() {
  std::vector<std::shared_ptr<Slot>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, slot] : sessions_) all.push_back(slot);
    sessions_.clear();
  }
  for (auto& slot : all) {
    std::lock_guard lock(slot->mutex);
    if (!slot->closed) end(*slot);
  }
}

}  // namespace fhellm::net
