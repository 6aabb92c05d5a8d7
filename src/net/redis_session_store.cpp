#include "net/redis_session_store.h"

#include <cinttypes>
#include <cstdio>

#include "net/retry_later.h"
#include "net/tenants.h"

namespace fhellm::net {

namespace {

// Lua, run atomically by Redis. Sequence numbers are compared as 20-digit
// zero-padded strings (Lua numbers are doubles: 2^64 - 1 does not fit).
// Deadlines are Redis's own clock in ms.
constexpr const char* kNowLua =
    "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) ";

// KEYS: session, live, owner's set. ARGV: id, owner, sequence, keys, ttl ms,
// server cap, owner cap (0: none). 1 added; -1 server full; -2 owner full; -3 id taken.
const std::string kOpenLua = std::string(kNowLua) + R"(
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('EXISTS', KEYS[1]) == 1 then return -3 end
local cap = tonumber(ARGV[6])
if cap > 0 and redis.call('ZCARD', KEYS[2]) >= cap then return -1 end
local kcap = tonumber(ARGV[7])
if kcap > 0 and redis.call('ZCARD', KEYS[3]) >= kcap then return -2 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'seq', ARGV[3], 'keys', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local deadline = now + tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], deadline, ARGV[1])
redis.call('ZADD', KEYS[3], deadline, ARGV[1])
return 1
)";

// KEYS: session, live, owner's set. ARGV: id, owner, sequence, ttl ms, close
// ('1': end the session). {1, last} accepted; {-1, ''} unknown or another
// owner's; {-2, last} not above the last.
const std::string kClaimLua = std::string(kNowLua) + R"(
local h = redis.call('HMGET', KEYS[1], 'owner', 'seq')
if not h[1] or h[1] ~= ARGV[2] then return {-1, ''} end
if ARGV[3] <= h[2] then return {-2, h[2]} end
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {1, h[2]}
end
redis.call('HSET', KEYS[1], 'seq', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local deadline = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], 'XX', deadline, ARGV[1])
redis.call('ZADD', KEYS[3], 'XX', deadline, ARGV[1])
return {1, h[2]}
)";

// KEYS: live, owner's set (or live again). {open sessions, the owner's}.
const std::string kCountLua = std::string(kNowLua) + R"(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
)";

std::string padded(std::uint64_t sequence) {
  char text[24];
  std::snprintf(text, sizeof text, "%020" PRIu64, sequence);
  return text;
}

std::string hex(std::uint64_t v) {
  char text[20];
  std::snprintf(text, sizeof text, "%016" PRIx64, v);
  return text;
}

std::uint64_t fnv1a(ByteView bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (std::uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
  return h;
}

std::string_view as_text(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

long long integer_at(const redisReply& r, std::size_t i) {
  require(r.type == REDIS_REPLY_ARRAY && r.elements > i && r.element[i]->type == REDIS_REPLY_INTEGER,
          ErrorCode::internal_error, "session store: unexpected reply shape");
  return r.element[i]->integer;
}

std::string string_at(const redisReply& r, std::size_t i) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements <= i || r.element[i]->type != REDIS_REPLY_STRING) return {};
  return std::string(r.element[i]->str, r.element[i]->len);
}

[[noreturn]] void unknown_session() {
  throw Error(ErrorCode::unknown_session,
              "no open session with this id for this key (never opened, closed, or expired after idling)");
}

}  // namespace

RedisSessionStore::RedisSessionStore(hybrid::RemoteService& service, RedisStoreConfig config,
                                     std::shared_ptr<MemoryBudget> budget)
    : service_(service),
      config_(std::move(config)),
      redis_(parse_redis_url(config_.url), config_.timeout),
      cache_(config_.cache_bytes, std::move(budget)),
      prefix_("fhellm:" + hex(fnv1a(service.description())) + ":"),
      ttl_ms_(std::to_string(std::max<long long>(1, config_.limits.idle_timeout.count()))) {}

std::string RedisSessionStore::session_key(std::uint64_t id) const { return prefix_ + "s:" + hex(id); }
std::string RedisSessionStore::owner_key(const std::string& owner) const { return prefix_ + "k:" + owner; }

std::uint64_t RedisSessionStore::owner_cap(const Tenant& owner) const { return owner.limits.sessions; }

// The limits before the keys are parsed (checked again, atomically, where the session is added).
void RedisSessionStore::check_room(const Tenant& owner) {
  const std::string live = prefix_ + "live", mine = owner_key(owner.name);
  RedisReply r = redis_.command({"EVAL", kCountLua, "2", live, mine});
  const auto all = static_cast<std::uint64_t>(integer_at(*r, 0));
  const auto theirs = static_cast<std::uint64_t>(integer_at(*r, 1));
  require(all < config_.limits.max_sessions, ErrorCode::session_limit,
          "the replicas hold " + std::to_string(all) + " sessions, the limit");
  require(owner_cap(owner) == 0 || theirs < owner_cap(owner), ErrorCode::session_limit,
          "key '" + owner.name + "' holds " + std::to_string(owner.limits.sessions) + " sessions, its limit");
}

// Parses keys into a cache entry, their memory priced and reserved first.
std::shared_ptr<PreparedKeys> RedisSessionStore::prepare(const std::string& owner, ByteView evaluation_keys) {
  const std::uint64_t memory = service_.session_memory_bytes(evaluation_keys);
  require(memory <= config_.limits.max_session_bytes, ErrorCode::session_limit,
          "session would hold " + std::to_string(memory) + " bytes of server memory, limit " +
              std::to_string(config_.limits.max_session_bytes));
  auto entry = std::make_shared<PreparedKeys>();
  entry->owner = owner;
  entry->memory = cache_.reserve(memory);
  entry->state = service_.open_session(evaluation_keys);
  require(entry->state->memory_bytes() <= memory, ErrorCode::internal_error,
          "session holds " + std::to_string(entry->state->memory_bytes()) + " bytes, " + std::to_string(memory) +
              " reserved");
  return entry;
}

std::uint64_t RedisSessionStore::open(Tenant& owner, ByteView evaluation_keys, std::uint64_t sequence) {
  check_room(owner);
  auto entry = prepare(owner.name, evaluation_keys);
  const std::string seq = padded(sequence), live = prefix_ + "live", mine = owner_key(owner.name);
  const std::string server_cap = std::to_string(config_.limits.max_sessions);
  const std::string key_cap = std::to_string(owner_cap(owner));
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::uint64_t id = random_session_id();
    const std::string key = session_key(id), id_text = hex(id);
    RedisReply r = redis_.command({"EVAL", kOpenLua, "3", key, live, mine, id_text, owner.name, seq,
                                   as_text(evaluation_keys), ttl_ms_, server_cap, key_cap});
    require(r->type == REDIS_REPLY_INTEGER, ErrorCode::internal_error, "session store: unexpected reply to open");
    if (r->integer == -3) continue;  // id taken: draw another
    require(r->integer != -1, ErrorCode::session_limit,
            "the replicas hold " + server_cap + " sessions, the limit");
    require(r->integer != -2, ErrorCode::session_limit,
            "key '" + owner.name + "' holds " + key_cap + " sessions, its limit");
    cache_.insert(id, std::move(entry));
    return id;
  }
  throw Error(ErrorCode::internal_error, "session store: no free session id in 8 draws");
}

// A cache miss: the keys from Redis, parsed here.
std::shared_ptr<PreparedKeys> RedisSessionStore::load(std::uint64_t id, const Tenant& owner) {
  RedisReply r = redis_.command({"HMGET", session_key(id), "owner", "keys"});
  if (string_at(*r, 0) != owner.name) unknown_session();
  require(r->element[1]->type == REDIS_REPLY_STRING, ErrorCode::internal_error,
          "session store: a session without keys");
  const ByteView keys(reinterpret_cast<const std::uint8_t*>(r->element[1]->str), r->element[1]->len);
  auto entry = prepare(owner.name, keys);
  cache_.insert(id, entry);
  return entry;
}

void RedisSessionStore::claim(std::uint64_t id, const Tenant& owner, std::uint64_t sequence, bool close) {
  const std::string live = prefix_ + "live", mine = owner_key(owner.name), seq = padded(sequence);
  RedisReply r = redis_.command({"EVAL", kClaimLua, "3", session_key(id), live, mine, hex(id), owner.name, seq,
                                 ttl_ms_, close ? "1" : "0"});
  const long long code = integer_at(*r, 0);
  if (code == -1) {
    cache_.erase(id);  // closed, expired or lost by Redis: this copy is stale
    unknown_session();
  }
  if (code == -2) {
    std::string last = string_at(*r, 1);
    last.erase(0, std::min(last.find_first_not_of('0'), last.size() - 1));
    throw Error(ErrorCode::replayed_message, "sequence number " + std::to_string(sequence) +
                                                 " is not above the last accepted by any replica (" + last + ")");
  }
}

void RedisSessionStore::call(std::uint64_t id, Tenant& owner, std::uint64_t sequence, const Work& work) {
  std::shared_ptr<PreparedKeys> entry = cache_.find(id);
  if (entry != nullptr && entry->owner != owner.name) unknown_session();
  if (entry == nullptr) entry = load(id, owner);
  std::unique_lock lock(entry->mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    throw RetryLater(ErrorCode::server_busy, "this session is evaluating another call (one at a time)",
                     std::chrono::seconds(1));
  }
  claim(id, owner, sequence, false);
  work(*entry->state);
}

void RedisSessionStore::close(std::uint64_t id, Tenant& owner, std::uint64_t sequence) {
  claim(id, owner, sequence, true);
  cache_.erase(id);
}

std::uint64_t RedisSessionStore::expire_idle() {
  cache_.drop_idle(config_.limits.idle_timeout);
  return 0;  // the sessions themselves expire in Redis
}

std::uint64_t RedisSessionStore::count() {
  const std::string live = prefix_ + "live";
  RedisReply r = redis_.command({"EVAL", kCountLua, "2", live, live});
  return static_cast<std::uint64_t>(integer_at(*r, 0));
}

SessionStoreMetrics RedisSessionStore::metrics() {
  SessionStoreMetrics m;
  try {
    m.sessions = count();
  } catch (const Error&) {
    m.sessions = 0;
  }
  m.memory_bytes = cache_.bytes();
  m.cache_hits = cache_.hits();
  m.cache_misses = cache_.misses();
  m.cache_evictions = cache_.evictions();
  m.cache_limit_bytes = cache_.limit();
  return m;
}

// The owner's sessions from its set in Redis (every replica's; the tenant's
// own counter in this process is not kept for a shared store), its memory
// from this replica's cache.
OwnerSessionMetrics RedisSessionStore::owner_metrics(const Tenant& owner) {
  OwnerSessionMetrics m;
  try {
    const std::string live = prefix_ + "live";
    RedisReply r = redis_.command({"EVAL", kCountLua, "2", live, owner_key(owner.name)});
    m.sessions = static_cast<std::uint64_t>(integer_at(*r, 1));
  } catch (const Error&) {
    m.sessions = 0;
  }
  m.memory_bytes = cache_.bytes_of(owner.name);
  return m;
}

void RedisSessionStore::drop_all() { cache_.clear(); }

}  // namespace fhellm::net
