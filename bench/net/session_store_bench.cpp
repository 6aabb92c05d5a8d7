// What a session store costs per call (docs/deploy.md, "Overhead"): the
// in-memory store against the Redis store, on a cache hit (one Lua script
// per call: the sequence number's claim) and on a miss (the keys fetched
// from Redis and parsed). Real session keys (he::LinearClient's, the same
// size for every model); the call's work is empty, so only the store is
// timed. Redis: $FHELLM_REDIS_URL, else a redis-server this program starts
// on a free loopback port (and stops).
//   ninja -C build fhellm_bench_net && nice build/bench/fhellm_bench_net
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "he/linear.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/remote_model.h"
#include "model/loader.h"
#include "net/memory_session_store.h"
#include "net/redis_session_store.h"
#include "net/tenants.h"
#include "../../tests/tools/ports.h"  // free_port, shared with the end-to-end tests

extern char** environ;

namespace fhellm {
namespace {

// A redis-server child for the whole run (none when $FHELLM_REDIS_URL is set).
struct RedisServer {
  RedisServer() {
    if (const char* url = std::getenv("FHELLM_REDIS_URL")) {
      this->url = url;
      return;
    }
    const int port = testing::free_port();
    const std::string p = std::to_string(port);
    const char* argv[] = {"redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--logfile", "/dev/null", nullptr};
    if (posix_spawnp(&pid, "redis-server", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
      throw std::runtime_error("cannot start redis-server (set FHELLM_REDIS_URL or install redis-server)");
    }
    url = "redis://127.0.0.1:" + p;
    for (int i = 0; i < 200; ++i) {
      try {
        net::RedisClient probe(net::parse_redis_url(url), std::chrono::milliseconds(500));
        return;
      } catch (const Error&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    throw std::runtime_error("redis-server did not start");
  }
  ~RedisServer() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  pid_t pid = -1;
  std::string url;
};

struct Fixture {
  Fixture()
      : hm(model::random_model(model::shape_preset("stories260k"), 1)),
        service(hybrid::make_remote_service(hm, {})),
        keys(he::LinearClient().server_keys().save()),
        tenant("bench", net::KeyLimits{0, 0, 0}),
        budget(net::MemoryBudget::make(8ull << 30)) {}
  net::RedisStoreConfig redis_config() const {
    net::RedisStoreConfig c;
    c.url = redis.url;
    return c;
  }
  RedisServer redis;
  hybrid::HybridModel hm;
  std::shared_ptr<hybrid::RemoteLinearService> service;
  Bytes keys;
  net::Tenant tenant;
  std::shared_ptr<net::MemoryBudget> budget;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void calls(benchmark::State& state, net::SessionStore& store) {
  Fixture& f = fixture();
  const std::uint64_t id = store.open(f.tenant, f.keys, 1);
  std::uint64_t sequence = 1;
  for (auto _ : state) store.call(id, f.tenant, ++sequence, [](hybrid::RemoteSession&) {});
  store.close(id, f.tenant, ++sequence);
}

void BM_CallInMemoryStore(benchmark::State& state) {
  Fixture& f = fixture();
  net::MemorySessionStore store(*f.service, {}, f.budget);
  calls(state, store);
}

void BM_CallRedisStoreCacheHit(benchmark::State& state) {
  Fixture& f = fixture();
  net::RedisSessionStore store(*f.service, f.redis_config(), f.budget);
  calls(state, store);
}

// Another replica's first call of a session: the keys from Redis, parsed.
void BM_CallRedisStoreCacheMiss(benchmark::State& state) {
  Fixture& f = fixture();
  net::RedisSessionStore opener(*f.service, f.redis_config(), f.budget);
  const std::uint64_t id = opener.open(f.tenant, f.keys, 1);
  std::uint64_t sequence = 1;
  for (auto _ : state) {
    state.PauseTiming();
    auto replica = std::make_unique<net::RedisSessionStore>(*f.service, f.redis_config(), f.budget);
    state.ResumeTiming();
    replica->call(id, f.tenant, ++sequence, [](hybrid::RemoteSession&) {});
    state.PauseTiming();
    replica.reset();
    state.ResumeTiming();
  }
  opener.close(id, f.tenant, ++sequence);
  state.counters["key_bytes"] = static_cast<double>(f.keys.size());
}

// The same parse without Redis: what a miss costs beyond the transfer.
void BM_ParseSessionKeys(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) benchmark::DoNotOptimize(f.service->open_session(f.keys));
}

BENCHMARK(BM_CallInMemoryStore)->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_CallRedisStoreCacheHit)->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_CallRedisStoreCacheMiss)->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_ParseSessionKeys)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace fhellm
