// End to end: a real `fhellm serve` process on loopback, clients in this
// process (and `fhellm generate` processes) in execute mode.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/artifact.h"
#include "hybrid/hybrid_model.h"
#include "client/execute_channel.h"
#include "net/http_channel.h"
#include "tools/process.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using hybrid::FheMode;
using hybrid::HybridModel;
using namespace std::chrono_literals;

const fs::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const fs::path kGpt2Tiny = FHELLM_SHARED_DIR "/models/gpt2-tiny-random";
const hybrid::GenerateOptions kGreedy{{0.0f, 0, 1.0f, 0}, false};

std::vector<TokenId> simulate_ids(const fs::path& model, const std::vector<TokenId>& prompt, std::size_t n,
                                  he::LinearPrecision precision = he::kLinearDefaultPrecision) {
  HybridModel hm = HybridModel::load(model);
  hm.set_precision(precision);
  hm.set_mode(FheMode::simulate);
  return hm.generate(prompt, n, kGreedy).ids;
}

std::vector<TokenId> execute_ids(HybridModel& hm, const std::string& url, const std::vector<TokenId>& prompt,
                                 std::size_t n, std::shared_ptr<hybrid::ExecuteStats>* stats = nullptr,
                                 he::LinearPrecision precision = he::kLinearDefaultPrecision) {
  hm.set_precision(precision);
  client::ExecuteClientOptions o;
  o.server_url = url;
  o.timeout = 60s;
  auto s = client::enable_execute(hm, o);
  hm.set_mode(FheMode::execute);
  auto ids = hm.generate(prompt, n, kGreedy).ids;
  hm.release_backend();  // closes the session
  if (stats != nullptr) *stats = s;
  return ids;
}

template <class F>
ErrorCode code_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;
}

class ServeExecute : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(testing::fhellm_binary()))
        << testing::fhellm_binary() << " is not built (build the `fhellm` target before these tests)";
    dir_ = fs::temp_directory_path() / ("fhellm-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();  // SIGTERM, reaped
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // fhellm compile as a process; returns the prefix.
  fs::path compile(const fs::path& model) {
    const fs::path prefix = dir_ / "model";
    testing::ChildProcess p({testing::fhellm_binary(), "compile", "--model", model.string(), "--out", prefix.string()},
                            true);
    EXPECT_EQ(p.wait_exit(120s), 0) << p.output();
    return prefix;
  }
  fs::path dir_;
  std::unique_ptr<testing::ServeProcess> server_;
};

TEST_F(ServeExecute, Stories260KFromArtifactsEqualsSimulate) {
  const fs::path prefix = compile(kStories);
  server_ = std::make_unique<testing::ServeProcess>(std::vector<std::string>{"--artifact", prefix.string() + ".server"});
  EXPECT_EQ(net::http_get(server_->url(), "/health"), "{\"status\":\"ok\",\"sessions\":0}\n");

  hybrid::ClientArtifact client = hybrid::load_client_artifact(prefix.string() + ".client");
  HybridModel hm(client.model);
  hm.set_remote_modules(client.remote);
  hm.set_quantization(client.description.quant);
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378};
  std::shared_ptr<hybrid::ExecuteStats> stats;
  const auto ids = execute_ids(hm, server_->url(), prompt, 8, &stats);
  EXPECT_EQ(ids, simulate_ids(kStories, prompt, 8));
  EXPECT_EQ(stats->n_calls, 22u * 8);  // the token lookup and 21 linear groups per forward
  EXPECT_GT(stats->channel.bytes_up, 0u);
  EXPECT_GT(stats->key_upload_bytes, 100000u);
  const std::string metrics = net::http_get(server_->url(), "/metrics");
  EXPECT_NE(metrics.find("fhellm_linear_calls_total 176\n"), std::string::npos) << metrics;
}

TEST_F(ServeExecute, ModelGpt2TinyRandomEqualsSimulate) {
  if (!fs::exists(kGpt2Tiny)) GTEST_SKIP() << "needs ../shared: no " << kGpt2Tiny;
  server_ = std::make_unique<testing::ServeProcess>(std::vector<std::string>{"--model", kGpt2Tiny.string()});
  HybridModel hm = HybridModel::load(kGpt2Tiny);
  const std::vector<TokenId> prompt = {464, 2068, 7586, 21831};
  EXPECT_EQ(execute_ids(hm, server_->url(), prompt, 4), simulate_ids(kGpt2Tiny, prompt, 4));
}

// Exact precision: a client that got another's result would show, bit for
// bit, even on prompts whose top logits nearly tie.
TEST_F(ServeExecute, EightClientsAtOnceGetTheirOwnTokens) {
  server_ = std::make_unique<testing::ServeProcess>(
      std::vector<std::string>{"--model", kStories.string(), "--precision", "exact"});
  auto model = HybridModel::load(kStories).shared_model();
  constexpr int kClients = 8;
  std::vector<std::vector<TokenId>> prompts, expected(kClients), got(kClients);
  for (int c = 0; c < kClients; ++c) prompts.push_back({1, static_cast<TokenId>(300 + 7 * c), 261});
  for (int c = 0; c < kClients; ++c) expected[c] = simulate_ids(kStories, prompts[c], 3, he::LinearPrecision::exact);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        HybridModel hm(model);
        got[c] = execute_ids(hm, server_->url(), prompts[c], 3, nullptr, he::LinearPrecision::exact);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "client " << c << ": " << e.what();
        failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(got[c], expected[c]) << "client " << c;
  // At least two expected sequences differ, so a mix-up would show.
  EXPECT_NE(expected[0], expected[1]);
}

TEST_F(ServeExecute, HostileMessagesGetTheirCodeAndTheServerKeepsServing) {
  server_ = std::make_unique<testing::ServeProcess>(
      std::vector<std::string>{"--model", kStories.string(), "--max-request-mb", "10"});  // the 9.0 MB session keys fit
  net::ChannelConfig config;
  config.url = server_->url();
  config.io_timeout = 30s;
  // A legitimate session, to replay and to check it keeps working.
  HybridModel victim = HybridModel::load(kStories);
  client::ExecuteClientOptions o;
  o.server_url = server_->url();
  client::enable_execute(victim, o);
  victim.set_mode(FheMode::execute);
  const std::vector<TokenId> prompt = {1, 403, 407};
  const auto first = victim.generate(prompt, 2, kGreedy).ids;

  net::HttpChannel raw(config);
  auto reply_code = [&](const Bytes& request) {
    const Bytes reply = raw.exchange(request);
    const net::Frame f = net::decode_frame(reply);
    EXPECT_EQ(f.header.type, net::MessageType::error_reply);
    return net::decode_error_reply(f.payload).code;
  };
  const std::uint32_t ids[] = {hybrid::linear_wire_id({0, hybrid::LinearKind::attn_out})};
  const Bytes call = net::encode_frame({net::MessageType::linear_call, 0, 1},
                                            net::encode_linear_call(ids, Bytes(100, 7)));
  EXPECT_EQ(reply_code(Bytes(64, 0xEE)), ErrorCode::bad_magic);                      // malformed
  EXPECT_EQ(reply_code(Bytes(call.begin(), call.end() - 10)), ErrorCode::truncated);  // truncated
  Bytes v9 = call;
  v9[4] = 9;
  EXPECT_EQ(reply_code(v9), ErrorCode::bad_version);                                       // wrong version
  EXPECT_EQ(reply_code(Bytes(10u << 20, 0)), ErrorCode::message_too_large);           // oversized
  Bytes foreign = call;
  foreign[8] = 0x42;                                                                       // session 0x42
  EXPECT_EQ(reply_code(foreign), ErrorCode::unknown_session);                              // foreign session
  // A real session opened by this raw client, then a replayed sequence number.
  net::HttpChannel owner(config);
  he::LinearClient keys_owner;
  owner.open_session(keys_owner.server_keys().save());
  Bytes replay = net::encode_frame({net::MessageType::linear_call, owner.session_id(), 1},
                                        net::encode_linear_call(ids, Bytes(100, 7)));
  EXPECT_EQ(reply_code(replay), ErrorCode::replayed_message);                              // replayed
  // Garbage inside a well-formed frame of a real session: the encrypted product's own check.
  Bytes junk = net::encode_frame({net::MessageType::linear_call, owner.session_id(), 5},
                                      net::encode_linear_call(ids, Bytes(100, 7)));
  EXPECT_EQ(reply_code(junk), ErrorCode::bad_magic);
  // Keys that are not keys.
  EXPECT_EQ(code_of([&] { net::HttpChannel(config).open_session(Bytes(50, 1)); }), ErrorCode::bad_magic);

  // The victim's session and the server are fine.
  EXPECT_EQ(victim.generate(prompt, 2, kGreedy).ids, first);
  EXPECT_EQ(net::http_get(server_->url(), "/health").substr(0, 15), "{\"status\":\"ok\",");
}

TEST_F(ServeExecute, ServerThatGoesAwayGivesServerUnavailable) {
  server_ = std::make_unique<testing::ServeProcess>(std::vector<std::string>{"--model", kStories.string()});
  HybridModel hm = HybridModel::load(kStories);
  client::ExecuteClientOptions o;
  o.server_url = server_->url();
  o.timeout = 10s;
  client::enable_execute(hm, o);
  hm.set_mode(FheMode::execute);
  const std::vector<TokenId> prompt = {1, 403};
  hm.generate(prompt, 1, kGreedy);
  server_->process().kill_now();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of([&] { hm.generate(prompt, 1, kGreedy); }), ErrorCode::server_unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

}  // namespace
}  // namespace fhellm
