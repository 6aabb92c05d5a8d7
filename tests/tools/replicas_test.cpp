// Several machines on one: redis-server, HAProxy and three `fhellm serve
// --session-store redis://` replicas on loopback ports, clients in this
// process through the load balancer (docs/deploy.md). Every service is
// started by the test on free ports and stopped when its object goes, also
// when the test fails.
//
// The expected ids are simulate's: a single `fhellm serve` gives exactly
// those (ServeExecute.*), so "equal to simulate" is "equal to a single
// server's run". Exact precision, as ServeExecute's eight clients: a client
// that got another's result, or a result of the wrong keys, would show bit
// for bit, even where the top logits nearly tie.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "client/execute_channel.h"
#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/remote_model.h"
#include "net/http_channel.h"
#include "tools/cluster.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using hybrid::FheMode;
using hybrid::HybridModel;
using namespace std::chrono_literals;

const fs::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const fs::path kGpt2Trained = FHELLM_SHARED_DIR "/models/gpt2-vimdoc-small";
const hybrid::GenerateOptions kGreedy{{0.0f, 0, 1.0f, 0}, false};

std::uint64_t metric(const std::string& url, const std::string& name) {
  const std::string text = net::http_get(url, "/metrics");
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + name.size() + 2));
}

// One client: its own model copy, session and keys, kept across generations.
struct Client {
  Client(std::shared_ptr<const model::Model> model, const std::string& url, std::vector<TokenId> p)
      : hm(std::move(model)), prompt(std::move(p)) {
    client::ExecuteClientOptions o;
    o.server_url = url;
    o.timeout = 60s;
    hm.set_precision(he::LinearPrecision::exact);
    stats = client::enable_execute(hm, o);
    hm.set_mode(FheMode::execute);
  }
  // Sessions the channel opened: the first, and one per reopen after a server forgot it.
  std::uint64_t sessions_opened() const {
    return stats->key_upload_bytes == 0 ? 0 : stats->channel.session_bytes_up / stats->key_upload_bytes;
  }
  HybridModel hm;
  std::vector<TokenId> prompt;
  std::shared_ptr<hybrid::ExecuteStats> stats;
  std::vector<TokenId> ids;
};

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(testing::fhellm_binary())) << testing::fhellm_binary() << " is not built";
    dir_ = fs::temp_directory_path() / ("fhellm-replicas-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    clients_.clear();  // close sessions while the services are up
    haproxy_.reset();
    replicas_.clear();
    redis_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void start(const fs::path& model, int n_replicas, bool persistent_redis) {
    redis_ = std::make_unique<testing::RedisProcess>(dir_ / "redis", persistent_redis);
    std::vector<int> ports;
    for (int i = 0; i < n_replicas; ++i) {
      replicas_.push_back(std::make_unique<testing::Replica>(
          std::vector<std::string>{"--model", model.string(), "--session-store", redis_->url(), "--precision", "exact"}));
      ports.push_back(replicas_.back()->port());
    }
    haproxy_ = std::make_unique<testing::HaproxyProcess>(dir_, ports);
  }

  // `n` clients on `url`, prompts that give different texts.
  void make_clients(const fs::path& model, int n, const std::string& url) {
    auto shared = HybridModel::load(model).shared_model();
    for (int c = 0; c < n; ++c) {
      std::vector<TokenId> prompt = model == kStories ? std::vector<TokenId>{1, static_cast<TokenId>(300 + 7 * c), 261}
                                                      : std::vector<TokenId>{464, static_cast<TokenId>(2068 + 31 * c)};
      clients_.push_back(std::make_unique<Client>(shared, url, prompt));
    }
  }

  std::vector<std::vector<TokenId>> simulate(const fs::path& model, std::size_t n) {
    HybridModel hm = HybridModel::load(model);
    hm.set_precision(he::LinearPrecision::exact);
    hm.set_mode(FheMode::simulate);
    std::vector<std::vector<TokenId>> out;
    for (auto& c : clients_) out.push_back(hm.generate(c->prompt, n, kGreedy).ids);
    return out;
  }

  // Every client generates `n` tokens at once; `on_token(client, i)` runs
  // after each token. Returns the number of clients that saw an error.
  int generate_all(std::size_t n, const std::function<void(std::size_t, int)>& on_token = {}) {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < clients_.size(); ++c) {
      threads.emplace_back([&, c] {
        int i = 0;
        try {
          clients_[c]->ids = clients_[c]->hm.generate(clients_[c]->prompt, n, kGreedy, [&](TokenId) {
            if (on_token) on_token(c, ++i);
          }).ids;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "client " << c << ": " << e.what();
          failures.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    return failures.load();
  }

  std::uint64_t sum_metric(const std::string& name) {
    std::uint64_t total = 0;
    for (auto& r : replicas_) total += metric(r->url(), name);
    return total;
  }

  fs::path dir_;
  std::unique_ptr<testing::RedisProcess> redis_;
  std::vector<std::unique_ptr<testing::Replica>> replicas_;
  std::unique_ptr<testing::HaproxyProcess> haproxy_;
  std::vector<std::unique_ptr<Client>> clients_;
};

// 8 clients through HAProxy get simulate's ids; then, while they generate
// again, one replica is SIGKILLed and restarted: every client finishes with
// the same ids and no error, and the restarted replica serves again.
TEST_F(Replicas, EightClientsThroughAReplicaKilledMidGenerationGetTheSameTokens) {
  start(kStories, 3, false);
  make_clients(kStories, 8, haproxy_->url());
  const auto expected = simulate(kStories, 4);
  ASSERT_EQ(generate_all(4), 0);
  for (std::size_t c = 0; c < clients_.size(); ++c) EXPECT_EQ(clients_[c]->ids, expected[c]) << "client " << c;
  EXPECT_NE(expected[0], expected[1]);  // a mix-up of clients would show

  std::once_flag killed;
  ASSERT_EQ(generate_all(4,
                         [&](std::size_t c, int i) {
                           if (c != 0 || i != 1) return;
                           std::call_once(killed, [&] {
                             replicas_[1]->kill_now();  // calls of several clients are in flight on it
                             replicas_[1]->start();     // same port, a new process with an empty cache
                           });
                         }),
            0);
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    EXPECT_EQ(clients_[c]->ids, expected[c]) << "client " << c;
    EXPECT_EQ(clients_[c]->sessions_opened(), 1u) << "client " << c << " had to reopen its session";
  }
  // The kill was seen: requests failed on the dead replica (a reply cut off:
  // eresp, the client's 502) or found it gone and went to another (wretr, wredis).
  const std::string stats = haproxy_->stats_csv();
  const long long eresp = testing::HaproxyProcess::backend_counter(stats, "eresp");
  const long long wretr = testing::HaproxyProcess::backend_counter(stats, "wretr");
  const long long wredis = testing::HaproxyProcess::backend_counter(stats, "wredis");
  std::printf("HAProxy: %lld replies cut off, %lld requests retried, %lld sent to another replica\n", eresp, wretr,
              wredis);
  EXPECT_GT(eresp + wretr + wredis, 0) << stats;
  // The restarted replica rejoins: HAProxy's health check sees it, and it
  // serves calls of sessions it never opened (keys from Redis).
  clients_.resize(1);
  ASSERT_EQ(generate_all(2), 0);
  EXPECT_GT(metric(replicas_[1]->url(), "fhellm_linear_calls_total"), 0u);
  EXPECT_GT(metric(replicas_[1]->url(), "fhellm_key_cache_misses_total"), 0u);
  const double hits = static_cast<double>(sum_metric("fhellm_key_cache_hits_total"));
  const double misses = static_cast<double>(sum_metric("fhellm_key_cache_misses_total"));
  std::printf("key cache: %.0f hits, %.0f misses over the replicas (hit rate %.3f)\n", hits, misses,
              hits / (hits + misses));
}

// Reads ../shared/models: labelled model_files (tests/README.md).
class ReplicasModel : public Replicas {};

TEST_F(ReplicasModel, TrainedGpt2EightClientsGetASingleServersTokens) {
  if (!fs::exists(kGpt2Trained)) GTEST_SKIP() << "needs ../shared: no " << kGpt2Trained;
  start(kGpt2Trained, 3, false);
  make_clients(kGpt2Trained, 8, haproxy_->url());
  const auto expected = simulate(kGpt2Trained, 2);
  ASSERT_EQ(generate_all(2), 0);
  for (std::size_t c = 0; c < clients_.size(); ++c) EXPECT_EQ(clients_[c]->ids, expected[c]) << "client " << c;
}

// Redis restarted in the middle of generations: with its append-only file the
// sessions survive (no client reopens); without persistence the clients
// reopen their sessions and finish with the same ids.
TEST_F(Replicas, ARedisRestartKeepsSessionsWithPersistenceAndClientsReopenWithout) {
  start(kStories, 2, true);
  make_clients(kStories, 2, haproxy_->url());
  const auto expected = simulate(kStories, 4);
  auto restart_redis_at = [&](bool persistent) {
    return [this, persistent, done = std::make_shared<std::once_flag>()](std::size_t c, int i) {
      if (c != 0 || i != 2) return;
      std::call_once(*done, [&] {
        const int port = redis_->port();
        redis_.reset();  // SIGTERM: Redis writes its append-only file and exits
        if (!persistent) fs::remove_all(dir_ / "redis");
        redis_ = std::make_unique<testing::RedisProcess>(dir_ / "redis", persistent, port);
      });
    };
  };
  ASSERT_EQ(generate_all(4, restart_redis_at(true)), 0);
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    EXPECT_EQ(clients_[c]->ids, expected[c]) << "client " << c;
    EXPECT_EQ(clients_[c]->sessions_opened(), 1u) << "client " << c << ": the session did not survive";
  }
  ASSERT_EQ(generate_all(4, restart_redis_at(false)), 0);
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    EXPECT_EQ(clients_[c]->ids, expected[c]) << "client " << c;
  }
  // Client 0 was generating when Redis forgot every session: it reopened.
  EXPECT_GE(clients_[0]->sessions_opened(), 2u);
}

// A call accepted by one replica and sent again, byte for byte, to another
// (or the same) is refused; a new number on the other replica is served, and
// gives the same product.
TEST_F(Replicas, AReplayedCallIsRefusedByEveryReplica) {
  redis_ = std::make_unique<testing::RedisProcess>(dir_ / "redis", false);
  for (int i = 0; i < 2; ++i) {
    replicas_.push_back(std::make_unique<testing::Replica>(
        std::vector<std::string>{"--model", kStories.string(), "--session-store", redis_->url(), "--precision",
                                 "exact"}));
  }
  net::ChannelConfig config;
  config.url = replicas_[0]->url();
  net::HttpChannel a(config);
  config.url = replicas_[1]->url();
  net::HttpChannel b(config);
  he::LinearClient keys;
  a.open_session(keys.server_keys().save());
  const std::uint32_t ids[] = {hybrid::linear_wire_id({0, hybrid::LinearKind::attn_out})};
  std::vector<std::uint8_t> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(i * 37);
  // Exact precision: the two replicas' results must agree bit for bit.
  const Bytes upload =
      keys.encrypt(std::span<const std::uint8_t>(x), he::LinearShape{1, 64, 64}, he::LinearPrecision::exact);
  const Bytes payload = net::encode_linear_call(ids, upload);
  // The error code of a reply, or none (a result).
  auto code_of = [](const Bytes& reply) -> std::optional<ErrorCode> {
    const net::Frame f = net::decode_frame(reply);
    if (f.header.type != net::MessageType::error_reply) return std::nullopt;
    return net::decode_error_reply(f.payload).code;
  };
  const Bytes call = net::encode_frame({net::MessageType::linear_call, a.session_id(), 2}, payload);
  const Bytes first = a.exchange(call);
  ASSERT_EQ(code_of(first), std::nullopt);
  EXPECT_EQ(code_of(b.exchange(call)), ErrorCode::replayed_message);  // the other replica
  EXPECT_EQ(code_of(a.exchange(call)), ErrorCode::replayed_message);  // the same one
  const Bytes next = net::encode_frame({net::MessageType::linear_call, a.session_id(), 3}, payload);
  const Bytes second = b.exchange(next);
  ASSERT_EQ(code_of(second), std::nullopt);
  EXPECT_EQ(code_of(a.exchange(next)), ErrorCode::replayed_message);
  const auto y1 = keys.decrypt(net::decode_linear_call_reply(net::decode_frame(first).payload).results);
  const auto y2 = keys.decrypt(net::decode_linear_call_reply(net::decode_frame(second).payload).results);
  EXPECT_EQ(y1, y2);
  // The per-key gauges count the shared store's session on every replica
  // (before: 0 with a Redis store), and each replica's memory for its keys.
  for (const auto& r : replicas_) {
    EXPECT_EQ(metric(r->url(), "fhellm_key_sessions{key=\"anonymous\"}"), 1u);
    EXPECT_GT(metric(r->url(), "fhellm_key_session_memory_bytes{key=\"anonymous\"}"), 0u);
  }
}

// A replica that cannot reach its session store does not start (exit code 6,
// I/O); a malformed store URL is an invalid argument (2). Neither prints a password.
TEST(ReplicaStart, WithoutItsRedisAReplicaRefusesToStart) {
  const std::string closed = "redis://:hunter2@127.0.0.1:" + std::to_string(testing::free_port());
  testing::ChildProcess p({testing::fhellm_binary(), "serve", "--model", kStories.string(), "--listen",
                           "127.0.0.1:0", "--session-store", closed},
                          true);
  EXPECT_EQ(p.wait_exit(60s), 6) << p.output();
  EXPECT_NE(p.output().find("session store redis://127.0.0.1:"), std::string::npos) << p.output();
  EXPECT_EQ(p.output().find("hunter2"), std::string::npos) << p.output();
  testing::ChildProcess q({testing::fhellm_binary(), "serve", "--model", kStories.string(), "--listen",
                           "127.0.0.1:0", "--session-store", "redis://:hunter2@127.0.0.1:99999"},
                          true);
  EXPECT_EQ(q.wait_exit(60s), 2) << q.output();
  EXPECT_EQ(q.output().find("hunter2"), std::string::npos) << q.output();
}

}  // namespace
}  // namespace fhellm
