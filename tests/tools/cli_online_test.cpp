// The online mode from the command line (docs/online.md): fhellm serve
// --online, fhellm precompute, fhellm generate --online as separate
// processes; the ids equal simulate's at exact precision, running out of
// material falls back and says so, a server without --online and a tampered
// store are refused with their exit codes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace fhellm
