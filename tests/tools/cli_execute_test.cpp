// The command line end to end: fhellm compile, fhellm serve, fhellm generate
// --fhe execute as separate processes, ids compared with --fhe simulate.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "tools/process.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::fhellm_binary;

const std::string kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";

// Runs fhellm with `args`; returns (exit code, stdout).
std::pair<int, std::string> run(const std::vector<std::string>& args, bool with_stderr = false) {
  std::vector<std::string> argv = {fhellm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, with_stderr);
  const int rc = p.wait_exit(300s);
  return {rc, p.output()};
}

std::vector<int> ids_of(const std::string& json_text) {
  const auto j = nlohmann::json::parse(json_text);
  return j.at("ids").get<std::vector<int>>();
}

class CliExecute : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fhellm_binary())) << fhellm_binary() << " is not built";
    dir_ = fs::temp_directory_path() / ("fhellm-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(CliExecute, CompileServeGenerateEqualsSimulate) {
  const std::string prefix = (dir_ / "stories").string();
  const auto [rc_compile, out_compile] = run({"compile", "--model", kStories, "--out", prefix});
  ASSERT_EQ(rc_compile, 0) << out_compile;
  testing::ServeProcess server({"--artifact", prefix + ".server"});
  const auto [rc_exec, out_exec] = run({"generate", "--artifact", prefix + ".client", "--server", server.url(), "--fhe",
                                        "execute", "-p", "Once upon a time", "-n", "6", "--json"});
  ASSERT_EQ(rc_exec, 0) << out_exec;
  const auto [rc_sim, out_sim] = run({"generate", "--fhe", "simulate", "-p", "Once upon a time", "-n", "6", "--json"});
  ASSERT_EQ(rc_sim, 0) << out_sim;
  EXPECT_EQ(ids_of(out_exec), ids_of(out_sim));
  const auto j = nlohmann::json::parse(out_exec);
  for (const char* key : {"ms_per_token", "client_ms_per_token", "server_ms_per_token", "network_ms_per_token",
                          "bytes_up_per_token", "bytes_down_per_token", "key_upload_bytes"}) {
    ASSERT_TRUE(j.contains(key)) << key;
  }
  EXPECT_GT(j["bytes_up_per_token"].get<double>(), 0);
  EXPECT_GT(j["key_upload_bytes"].get<double>(), 0);
  // A server that is gone: a clear error (protocol exit code 4), not a hang.
  server.process().kill_now();
  const auto [rc_gone, out_gone] = run({"generate", "--artifact", prefix + ".client", "--server", server.url(), "--fhe",
                                        "execute", "-p", "Once", "-n", "2"},
                                       true);
  EXPECT_EQ(rc_gone, 4) << out_gone;
  EXPECT_NE(out_gone.find("server_unavailable"), std::string::npos) << out_gone;
}

TEST_F(CliExecute, MismatchedArtifactsAndBadFlagsAreRefused) {
  const auto [rc1, out1] = run({"generate", "--artifact", (dir_ / "x.client").string(), "--fhe", "simulate"}, true);
  EXPECT_EQ(rc1, 2) << out1;  // bad_command_line: --artifact goes with execute
  const auto [rc2, out2] = run({"serve", "--listen", "127.0.0.1:99999", "--model", kStories}, true);
  EXPECT_EQ(rc2, 2) << out2;  // bad port
  const auto [rc3, out3] = run({"serve", "--artifact", (dir_ / "missing.server").string()}, true);
  EXPECT_EQ(rc3, 6) << out3;  // file_not_found: io
}

TEST_F(CliExecute, BenchGenerateJsonHasPerModeFigures) {
  const auto [rc, out] = run({"bench", "generate", "--shape", "stories260k", "--random-weights", "-n", "2",
                              "--prompt-tokens", "1", "--warmup", "0", "--json"});
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  for (const char* mode : {"execute", "simulate", "disable"}) {
    ASSERT_TRUE(j["modes"].contains(mode)) << mode;
    for (const char* key : {"ms_per_token", "ttft_ms", "prefill_ms_per_row", "bytes_up_per_token", "bytes_down_per_token"})
      EXPECT_TRUE(j["modes"][mode].contains(key)) << mode << "." << key;
  }
  EXPECT_GT(j["modes"]["execute"]["bytes_up_per_token"].get<double>(), 0);
  EXPECT_GT(j["modes"]["execute"]["prefill_bytes_up_per_row"].get<double>(), 0);
  EXPECT_GT(j["modes"]["execute"]["ttft_ms"].get<double>(), 0);
  EXPECT_GT(j["modes"]["execute"]["server_start_seconds"].get<double>(), 0);
  EXPECT_GT(j["modes"]["execute"]["server_peak_rss_mb"].get<double>(), 1);
  EXPECT_GT(j["modes"]["execute"]["server_resident_mb"].get<double>(), 1);
  EXPECT_EQ(j["modes"]["simulate"]["bytes_up_per_token"].get<double>(), 0);
}

}  // namespace
}  // namespace fhellm
