// The online mode from the command line (docs/online.md): fhellm serve
// --online, fhellm precompute, fhellm generate --online as separate
// processes; the ids equal simulate's at exact precision, running out of
// material falls back and says so, a server without --online and a tampered
// store are refused with their exit codes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tools/process.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::fhellm_binary;

const std::string kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";

std::pair<int, std::string> run(const std::vector<std::string>& args, bool with_stderr = false) {
  std::vector<std::string> argv = {fhellm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, with_stderr);
  const int rc = p.wait_exit(300s);
  return {rc, p.output()};
}

// The JSON object of an output that may carry stderr lines before it.
nlohmann::json json_of(const std::string& out) { return nlohmann::json::parse(out.substr(out.find('{'))); }

class CliOnline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fhellm_binary())) << fhellm_binary() << " is not built";
    dir_ = fs::temp_directory_path() / ("fhellm-cli-online-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    prefix_ = (dir_ / "stories").string();
    const auto [rc, out] = run({"compile", "--model", kStories, "--out", prefix_});
    ASSERT_EQ(rc, 0) << out;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> store_args() const {
    return {"--online-store", (dir_ / "store").string(), "--client-key", (dir_ / "client.key").string()};
  }
  std::vector<std::string> with_store(std::vector<std::string> args) const {
    const auto s = store_args();
    args.insert(args.end(), s.begin(), s.end());
    return args;
  }
  fs::path dir_;
  std::string prefix_;
};

TEST_F(CliOnline, PrecomputeThenGenerateEqualsExactSimulateAndFallsBack) {
  testing::ServeProcess server({"--artifact", prefix_ + ".server", "--online", "--precision", "default,exact"});
  const auto [rc_pre, out_pre] =
      run(with_store({"precompute", "--artifact", prefix_ + ".client", "--server", server.url(), "--rows", "6",
                      "--head-rows", "3", "--json"}));
  ASSERT_EQ(rc_pre, 0) << out_pre;
  EXPECT_EQ(json_of(out_pre).at("rows_made").get<int>(), 21 * 6 + 3);  // 20 groups and the token table
  const auto [rc_gen, out_gen] =
      run(with_store({"generate", "--artifact", prefix_ + ".client", "--server", server.url(), "--online",
                      "--precision", "exact", "-p", "Once upon a time", "-n", "8", "--json"}),
          true);
  ASSERT_EQ(rc_gen, 0) << out_gen;
  const auto [rc_sim, out_sim] =
      run({"generate", "--fhe", "simulate", "--precision", "exact", "-p", "Once upon a time", "-n", "8", "--json"});
  ASSERT_EQ(rc_sim, 0) << out_sim;
  const auto j = json_of(out_gen);
  EXPECT_EQ(j.at("ids"), json_of(out_sim).at("ids"));
  // 5 prompt rows and one decode row per group and for the token table
  // online, the rest encrypted (the table's 6 lookups too); the LM head 3
  // tokens online, 5 encrypted.
  EXPECT_EQ(j.at("online_rows").get<int>(), 21 * 6 + 3);
  EXPECT_EQ(j.at("fallback_rows").get<int>(), 20 * 6 + 6 + 5);
  EXPECT_NE(out_gen.find("online material ran out"), std::string::npos) << out_gen;
}

TEST_F(CliOnline, RefusesAServerWithoutOnlineAndATamperedStore) {
  {
    testing::ServeProcess plain({"--artifact", prefix_ + ".server"});
    const auto [rc, out] = run(
        with_store({"precompute", "--artifact", prefix_ + ".client", "--server", plain.url(), "--rows", "2"}), true);
    EXPECT_EQ(rc, 4) << out;  // protocol
    EXPECT_NE(out.find("online_not_served"), std::string::npos) << out;
  }
  testing::ServeProcess server({"--artifact", prefix_ + ".server", "--online"});
  const auto [rc_pre, out_pre] = run(
      with_store({"precompute", "--artifact", prefix_ + ".client", "--server", server.url(), "--rows", "2"}));
  ASSERT_EQ(rc_pre, 0) << out_pre;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "store")) {
    if (e.path().extension() != ".fhom") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    const char c = static_cast<char>(f.get() ^ 0x5a);  // one changed byte of every batch
    f.seekp(200);
    f.put(c);
  }
  const auto [rc, out] = run(with_store({"generate", "--artifact", prefix_ + ".client", "--server", server.url(),
                                         "--online", "-p", "Once", "-n", "2"}),
                             true);
  EXPECT_EQ(rc, 5) << out;  // security
  EXPECT_NE(out.find("material_corrupt"), std::string::npos) << out;
}

// The online mode behind a server with API keys (docs/threat-model.md):
// precompute and generate --online need the key like any client, and take it
// from --api-key (or FHELLM_API_KEY); without it: unauthorized, exit 5.
TEST_F(CliOnline, WithApiKeysPrecomputeAndGenerateNeedTheKey) {
  const std::string keys = (dir_ / "keys").string();
  const auto [rc_add, out_add] = run({"api-key", "add", "--file", keys, "--name", "alice"});
  ASSERT_EQ(rc_add, 0) << out_add;
  const std::string key = out_add.substr(0, out_add.find('\n'));
  ::unsetenv("FHELLM_API_KEY");
  testing::ServeProcess server({"--artifact", prefix_ + ".server", "--online", "--api-keys", keys});
  const std::vector<std::string> precompute = {"precompute", "--artifact", prefix_ + ".client",
                                               "--server",   server.url(), "--rows", "6", "--head-rows", "3"};
  const auto [rc_no, out_no] = run(with_store(precompute), true);
  EXPECT_EQ(rc_no, 5) << out_no;  // unauthorized: a security error
  EXPECT_NE(out_no.find("unauthorized"), std::string::npos) << out_no;
  std::vector<std::string> keyed = with_store(precompute);
  keyed.insert(keyed.end(), {"--api-key", key, "--json"});
  const auto [rc_pre, out_pre] = run(keyed);
  ASSERT_EQ(rc_pre, 0) << out_pre;
  EXPECT_EQ(json_of(out_pre).at("rows_made").get<int>(), 21 * 6 + 3);
  const auto [rc_gen, out_gen] =
      run(with_store({"generate", "--artifact", prefix_ + ".client", "--server", server.url(), "--online", "--api-key",
                      key, "-p", "Once upon a time", "-n", "2", "--json"}),
          true);
  ASSERT_EQ(rc_gen, 0) << out_gen;
  EXPECT_EQ(json_of(out_gen).at("fallback_rows").get<int>(), 0);
  // 5 prompt rows + 1 decode row per group and for the token table; 2 head rows.
  EXPECT_EQ(json_of(out_gen).at("online_rows").get<int>(), 21 * 6 + 2);
}

// fhellm gateway --online: a server with API keys and the online mode, the
// gateway tops the store up while idle (said on stderr), a request then runs
// every remote row on masks with the text of simulate at exact precision,
// and the top-up follows it. A gateway without the key, or facing a server
// without --online, stops at start with the error's exit code.
TEST_F(CliOnline, GatewayTopsUpWhileIdleAndAnswersWithTheExactSimulateText) {
  ASSERT_EQ(::access("/usr/bin/curl", X_OK), 0) << "curl is not installed (scripts/setup.sh installs it)";
  const std::string keys = (dir_ / "keys").string();
  const auto [rc_add, out_add] = run({"api-key", "add", "--file", keys, "--name", "gateway"});
  ASSERT_EQ(rc_add, 0) << out_add;
  const std::string key = out_add.substr(0, out_add.find('\n'));
  ::unsetenv("FHELLM_API_KEY");
  testing::ServeProcess server({"--artifact", prefix_ + ".server", "--online", "--api-keys", keys});
  const std::vector<std::string> gateway = {"gateway", "--artifact", prefix_ + ".client", "--server",
                                            server.url(), "--online", "--listen", "127.0.0.1:0"};
  {
    const auto [rc, out] = run(with_store(gateway), true);
    EXPECT_EQ(rc, 5) << out;  // no key: unauthorized, before listening
    EXPECT_NE(out.find("unauthorized"), std::string::npos) << out;
  }
  std::vector<std::string> argv = {fhellm_binary()};
  for (const std::string& a : with_store(gateway)) argv.push_back(a);
  argv.insert(argv.end(), {"--api-key", key, "--precompute-rows", "40", "--precompute-head-rows", "20"});
  ChildProcess gw(argv, true);
  std::string out = gw.read_until("every group holds 40 rows, the LM head 20", 120s);
  ASSERT_NE(out.find("every group holds 40 rows"), std::string::npos) << out;
  const auto at = out.find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string url = out.substr(at, out.find("/v1", at) - at);

  ChildProcess curl({"/usr/bin/curl", "-sS", url + "/v1/completions", "-H", "Content-Type: application/json", "-d",
                     R"({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0})"});
  ASSERT_EQ(curl.wait_exit(120s), 0) << curl.output();
  const auto reply = nlohmann::json::parse(curl.output());
  const auto [rc_sim, out_sim] =
      run({"generate", "--fhe", "simulate", "--precision", "exact", "-p", "Once upon a time", "-n", "8", "--json"});
  ASSERT_EQ(rc_sim, 0) << out_sim;
  EXPECT_EQ(reply["choices"][0]["text"], json_of(out_sim).at("text")) << reply.dump();
  // 5 prompt rows + 7 decode rows per group and for the token table; the LM head 8.
  EXPECT_EQ(reply["fhellm"]["online_rows"], 21 * 12 + 8) << reply.dump();
  EXPECT_EQ(reply["fhellm"]["fallback_rows"], 0) << reply.dump();
  // Idle again: the rows used are made again.
  const auto top_ups = [](const std::string& text) {
    std::size_t n = 0;
    for (auto p = text.find("every group holds 40"); p != std::string::npos; p = text.find("every group holds 40", p + 1))
      ++n;
    return n;
  };
  for (auto deadline = std::chrono::steady_clock::now() + 120s;
       top_ups(out) < 2 && std::chrono::steady_clock::now() < deadline;)
    out = gw.read_until("\x01", 1s);  // (never printed: reads for a second)
  EXPECT_EQ(top_ups(out), 2u) << out;

  testing::ServeProcess plain({"--artifact", prefix_ + ".server"});
  std::vector<std::string> to_plain = with_store(gateway);
  to_plain[4] = plain.url();
  const auto [rc_plain, out_plain] = run(to_plain, true);
  EXPECT_EQ(rc_plain, 4) << out_plain;  // protocol: the server keeps no int8 weights
  EXPECT_NE(out_plain.find("online_not_served"), std::string::npos) << out_plain;
}

}  // namespace
}  // namespace fhellm
