// net::RedisSessionStore against a redis-server the test starts on a free
// loopback port: two store objects on one Redis are two replicas.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "net/redis_session_store.h"
#include "net/retry_later.h"
#include "net/tenants.h"
#include "net/test_service.h"
#include "tools/cluster.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <class F>
ErrorCode code_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;
}

class RedisStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fhellm-redis-store-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    redis_ = std::make_unique<testing::RedisProcess>(dir_, false);
  }
  void TearDown() override {
    redis_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<net::RedisSessionStore> replica(std::uint64_t cache_bytes = 1 << 20,
                                                  std::chrono::milliseconds idle = 10min,
                                                  std::size_t max_sessions = 64) {
    net::RedisStoreConfig c;
    c.url = redis_->url();
    c.cache_bytes = cache_bytes;
    c.limits.idle_timeout = idle;
    c.limits.max_sessions = max_sessions;
    return std::make_unique<net::RedisSessionStore>(service_, c, budget_);
  }
  // Runs one call; returns the session's key as the service saw it.
  static std::uint64_t call(net::SessionStore& s, std::uint64_t id, net::Tenant& t, std::uint64_t seq) {
    std::uint64_t key = 0;
    s.call(id, t, seq, [&](hybrid::RemoteSession& r) { key = dynamic_cast<testing::ArithmeticSession&>(r).key; });
    return key;
  }

  fs::path dir_;
  std::unique_ptr<testing::RedisProcess> redis_;
  testing::ArithmeticService service_;
  std::shared_ptr<net::MemoryBudget> budget_ = net::MemoryBudget::make(1 << 20);
  net::Tenant alice_{"alice", {2, 0, 0}}, bob_{"bob", {0, 0, 0}};
};

TEST_F(RedisStore, AnyReplicaServesAnySessionAndRefusesReplaysOfEveryOther) {
  auto a = replica(), b = replica();
  const std::uint64_t id = a->open(alice_, testing::ArithmeticService::key_bytes(41), 1);
  EXPECT_EQ(call(*a, id, alice_, 2), 41u);
  EXPECT_EQ(call(*b, id, alice_, 3), 41u);  // b parsed the keys from Redis
  EXPECT_EQ(service_.opened.load(), 2);
  EXPECT_EQ(code_of([&] { call(*a, id, alice_, 3); }), ErrorCode::replayed_message);
  EXPECT_EQ(code_of([&] { call(*b, id, alice_, 2); }), ErrorCode::replayed_message);
  EXPECT_EQ(code_of([&] { call(*a, id, bob_, 9); }), ErrorCode::unknown_session);  // another key's session
  EXPECT_EQ(code_of([&] { call(*b, id + 1, alice_, 9); }), ErrorCode::unknown_session);
  EXPECT_EQ(a->count(), 1u);
  b->close(id, alice_, ~0ull);  // 2^64 - 1 is a valid close
  EXPECT_EQ(code_of([&] { call(*a, id, alice_, 10); }), ErrorCode::unknown_session);  // a's copy was stale
  EXPECT_EQ(a->count(), 0u);
  const auto m = b->metrics();
  EXPECT_EQ(m.cache_misses, 2u);  // the session's keys loaded once; the unknown id looked for
  EXPECT_EQ(m.cache_hits, 1u);
}

TEST_F(RedisStore, SessionLimitsCountEveryReplica) {
  auto a = replica(1 << 20, 10min, 3), b = replica(1 << 20, 10min, 3);
  a->open(alice_, testing::ArithmeticService::key_bytes(1), 1);
  b->open(alice_, testing::ArithmeticService::key_bytes(2), 1);
  EXPECT_EQ(code_of([&] { a->open(alice_, testing::ArithmeticService::key_bytes(3), 1); }),
            ErrorCode::session_limit);  // alice's 2, one on each replica
  b->open(bob_, testing::ArithmeticService::key_bytes(4), 1);
  EXPECT_EQ(code_of([&] { a->open(bob_, testing::ArithmeticService::key_bytes(5), 1); }),
            ErrorCode::session_limit);  // the server's 3
}

TEST_F(RedisStore, PerOwnerFiguresCountEveryReplicasSessionsAndThisReplicasKeys) {
  auto a = replica(), b = replica();
  const std::uint64_t first = a->open(alice_, testing::ArithmeticService::key_bytes(1), 1);
  b->open(alice_, testing::ArithmeticService::key_bytes(2), 1);
  b->open(bob_, testing::ArithmeticService::key_bytes(3), 1);
  for (auto* r : {a.get(), b.get()}) {
    EXPECT_EQ(r->owner_metrics(alice_).sessions, 2u);  // one opened on each replica
    EXPECT_EQ(r->owner_metrics(bob_).sessions, 1u);
  }
  EXPECT_GT(a->owner_metrics(alice_).memory_bytes, 0u);  // a holds the keys of alice's first session
  EXPECT_EQ(a->owner_metrics(bob_).memory_bytes, 0u);    // bob's are on b only
  EXPECT_EQ(b->owner_metrics(alice_).memory_bytes + b->owner_metrics(bob_).memory_bytes, b->metrics().memory_bytes);
  b->close(first, alice_, ~0ull);
  EXPECT_EQ(a->owner_metrics(alice_).sessions, 1u);
  redis_.reset();  // unreachable: 0, no throw
  EXPECT_EQ(a->owner_metrics(alice_).sessions, 0u);
}

TEST_F(RedisStore, SessionsExpireInRedisAfterTheIdleTimeoutAndCallsRenewIt) {
  auto a = replica(1 << 20, 600ms);
  const std::uint64_t id = a->open(alice_, testing::ArithmeticService::key_bytes(7), 1);
  for (std::uint64_t seq = 2; seq < 6; ++seq) {
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(call(*a, id, alice_, seq), 7u);  // each call renews the 600 ms
  }
  std::this_thread::sleep_for(900ms);
  EXPECT_EQ(code_of([&] { call(*a, id, alice_, 9); }), ErrorCode::unknown_session);
  EXPECT_EQ(a->count(), 0u);
}

TEST_F(RedisStore, TheKeyCacheKeepsTheMostRecentlyUsedUnderItsBudget) {
  auto a = replica(), b = replica(128);  // b holds two sessions' keys (64 bytes each)
  std::vector<std::uint64_t> ids;
  for (std::uint64_t k = 1; k <= 3; ++k) ids.push_back(a->open(bob_, testing::ArithmeticService::key_bytes(k), 1));
  std::uint64_t seq = 2;
  for (std::uint64_t id : ids) call(*b, id, bob_, seq++);  // 3 misses, the first evicted
  call(*b, ids[2], bob_, seq++);                          // hit
  call(*b, ids[0], bob_, seq++);                          // miss again, evicts ids[1]
  const auto m = b->metrics();
  EXPECT_EQ(m.cache_misses, 4u);
  EXPECT_EQ(m.cache_hits, 1u);
  EXPECT_EQ(m.cache_evictions, 2u);
  EXPECT_LE(m.memory_bytes, 128u);
}

TEST_F(RedisStore, AnUnreachableRedisIsServerBusyAndABadUrlIsRefused) {
  auto a = replica();
  const std::uint64_t id = a->open(alice_, testing::ArithmeticService::key_bytes(5), 1);
  const int port = redis_->port();
  redis_.reset();
  EXPECT_EQ(code_of([&] { call(*a, id, alice_, 2); }), ErrorCode::server_busy);
  EXPECT_EQ(code_of([&] { a->count(); }), ErrorCode::server_busy);
  redis_ = std::make_unique<testing::RedisProcess>(dir_, false, port);  // empty: the session is gone
  EXPECT_EQ(code_of([&] { call(*a, id, alice_, 3); }), ErrorCode::unknown_session);
  for (const char* url : {"http://127.0.0.1:1", "redis://127.0.0.1", "redis://127.0.0.1:0", "redis://h:1/x"}) {
    net::RedisStoreConfig c;
    c.url = url;
    EXPECT_EQ(code_of([&] { net::RedisSessionStore(service_, c, budget_); }), ErrorCode::invalid_argument) << url;
  }
  net::RedisStoreConfig c;
  c.url = "redis://127.0.0.1:" + std::to_string(testing::free_port());
  EXPECT_EQ(code_of([&] { net::RedisSessionStore(service_, c, budget_); }), ErrorCode::io_error);
}

}  // namespace
}  // namespace fhellm
