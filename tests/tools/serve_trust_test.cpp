// End to end, the real binaries: keys, Ctrl-C, SIGTERM with slow clients, a
// server restart in the middle of a generation, memory of refused uploads.
// Each test names the defect of issue 11 it guards against.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/hybrid_model.h"
#include "client/execute_channel.h"
#include "net/http_channel.h"
#include "net/process_memory.h"
#include "net/raw_socket.h"
#include "tools/ports.h"
#include "tools/process.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using hybrid::FheMode;
using hybrid::HybridModel;
using namespace std::chrono_literals;

const fs::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const hybrid::GenerateOptions kGreedy{{0.0f, 0, 1.0f, 0}, false};

using testing::free_port;

int sessions_of(const std::string& url) {
  const std::string health = net::http_get(url, "/health");
  const auto at = health.find("\"sessions\":");
  return at == std::string::npos ? -1 : std::stoi(health.substr(at + 11));
}

class ServeTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(testing::fhellm_binary())) << testing::fhellm_binary() << " is not built";
    dir_ = fs::temp_directory_path() / ("fhellm-trust-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(ServeTrust, ApiKeyAddThenServeWithKeysThenGenerateWithTheKey) {
  const std::string file = (dir_ / "keys").string();
  testing::ChildProcess add({testing::fhellm_binary(), "api-key", "add", "--file", file, "--name", "alice"});
  ASSERT_EQ(add.wait_exit(30s), 0) << add.output();
  const std::string key = add.output().substr(0, add.output().find('\n'));
  ASSERT_EQ(key.rfind("fhk_", 0), 0u) << add.output();
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  testing::ServeProcess server({"--model", kStories.string(), "--api-keys", file});
  const std::vector<std::string> generate = {testing::fhellm_binary(), "generate", "--server", server.url(),
                                             "-p", "Once upon a time", "-n", "3"};
  {
    ::unsetenv("FHELLM_API_KEY");
    testing::ChildProcess no_key(generate, true);
    EXPECT_EQ(no_key.wait_exit(60s), 5) << no_key.output();  // unauthorized: a security error
    EXPECT_NE(no_key.output().find("unauthorized"), std::string::npos) << no_key.output();
  }
  ::setenv("FHELLM_API_KEY", key.c_str(), 1);
  testing::ChildProcess with_key(generate, true);
  EXPECT_EQ(with_key.wait_exit(120s), 0) << with_key.output();
  ::unsetenv("FHELLM_API_KEY");
}

// Defect: a client interrupted by Ctrl-C left its session open until the idle timeout.
TEST_F(ServeTrust, CtrlCClosesTheSession) {
  testing::ServeProcess server({"--model", kStories.string()});
  testing::ChildProcess client({testing::fhellm_binary(), "generate", "--server", server.url(), "-p",
                                "Once upon a time", "-n", "250"},
                               true);
  // Wait until it generates (some text after the prompt), then Ctrl-C.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (client.output().size() < 40 && std::chrono::steady_clock::now() < deadline) client.read_until("\x01", 200ms);
  ASSERT_GE(client.output().size(), 40u) << client.output();
  ASSERT_EQ(sessions_of(server.url()), 1) << client.output();
  ::kill(client.pid(), SIGINT);
  EXPECT_EQ(client.wait_exit(20s), 130) << client.output();
  EXPECT_NE(client.output().find("interrupted"), std::string::npos) << client.output();
  EXPECT_EQ(sessions_of(server.url()), 0) << "the interrupted client left its session open";
}

// Defect: 32 slow connections stopped all service, and SIGTERM waited for them.
TEST_F(ServeTrust, SigtermStopsWithinSecondsWhateverTheClientsDo) {
  // All from one address here: lift the per-address cap the test would hit first.
  testing::ServeProcess server({"--model", kStories.string(), "--max-connections-per-address", "100"});
  std::vector<std::unique_ptr<testing::RawSocket>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<testing::RawSocket>(server.port()));
    slow.back()->send(i % 2 ? "POST /v1/mess" : "POST /v1/message HTTP/1.1\r\nContent-Length: 9999\r\n\r\nxx");
  }
  // Still serving.
  HybridModel hm = HybridModel::load(kStories);
  client::ExecuteClientOptions o;
  o.server_url = server.url();
  client::enable_execute(hm, o);
  hm.set_mode(FheMode::execute);
  EXPECT_EQ(hm.generate(std::vector<TokenId>{1, 403}, 1, kGreedy).ids.size(), 1u);
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(server.process().pid(), SIGTERM);
  EXPECT_EQ(server.process().wait_exit(10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  hm.release_backend();
}

// Defect: a server killed and restarted 0.3 s later ended every client that was generating.
TEST_F(ServeTrust, AGenerationGoesOnThroughAServerRestartWithTheSameTokens) {
  const int port = free_port();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const std::string url = "http://" + listen;
  auto start = [&] {
    auto p = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{testing::fhellm_binary(), "serve", "--model", kStories.string(), "--listen", listen});
    p->read_until("listening", 60s);
    return p;
  };
  auto server = start();
  const std::vector<TokenId> prompt = {1, 403, 407, 261};
  HybridModel sim = HybridModel::load(kStories);
  sim.set_mode(FheMode::simulate);
  const auto expected = sim.generate(prompt, 8, kGreedy).ids;

  HybridModel hm = HybridModel::load(kStories);
  client::ExecuteClientOptions o;
  o.server_url = url;
  auto stats = client::enable_execute(hm, o);
  hm.set_mode(FheMode::execute);
  int n = 0;
  const auto got = hm.generate(prompt, 8, kGreedy, [&](TokenId) {
    if (++n != 3) return;
    server->kill_now();  // killed in the middle of the generation, back 0.3 s later
    std::this_thread::sleep_for(300ms);
    server = start();
  });
  EXPECT_EQ(got.ids, expected);
  EXPECT_EQ(sessions_of(url), 1);
  hm.release_backend();
  EXPECT_EQ(sessions_of(url), 0);
}

// Defect: refused uploads left freed memory held per connection thread
// (4.74 GB after 37 refused uploads, no session open).
TEST_F(ServeTrust, RefusedUploadsGiveTheirMemoryBack) {
  testing::ServeProcess server({"--model", kStories.string()});
  // One real generation first: the server's pools and caches as in service.
  {
    HybridModel hm = HybridModel::load(kStories);
    client::ExecuteClientOptions o;
    o.server_url = server.url();
    client::enable_execute(hm, o);
    hm.set_mode(FheMode::execute);
    hm.generate(std::vector<TokenId>{1, 403}, 2, kGreedy);
  }
  // Keys of the right size with one coefficient out of range at the end: the
  // server parses nearly all of them before refusing.
  std::vector<std::uint8_t> keys = he::LinearClient().server_keys().save();
  for (std::size_t i = keys.size() - 64; i < keys.size(); ++i) keys[i] = 0xFF;
  const std::uint64_t before = net::resident_bytes(server.process().pid());
  std::vector<std::thread> senders;
  std::atomic<int> refused{0};
  for (int t = 0; t < 6; ++t) {
    senders.emplace_back([&] {
      net::ChannelConfig c;
      c.url = server.url();
      c.retry.attempts = 1;
      for (int i = 0; i < 4; ++i) {
        try {
          net::HttpChannel(c).open_session(keys);
        } catch (const Error&) {
          refused.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(refused.load(), 24);
  std::this_thread::sleep_for(200ms);
  const double grown_mb =
      (static_cast<double>(net::resident_bytes(server.process().pid())) - static_cast<double>(before)) / 1e6;
  // The defect held ~128 MB per refused upload (24 would be ~3 GB); what the
  // allocator keeps of the freed parses in its arenas varies with the load:
  // 3-39 MB measured on a busy 2-core machine (30 was too tight for CI).
  EXPECT_LT(grown_mb, 100.0) << "24 refused key uploads of " << keys.size() / 1e6 << " MB left the server "
                            << grown_mb << " MB larger";
  EXPECT_EQ(sessions_of(server.url()), 0);
}

}  // namespace
}  // namespace fhellm
