// The command line users expect: llama.cpp's names as aliases, every
// argument error one line "fhellm: error: ..." with its documented exit code
// (1: CLI11 cannot parse it; 2: invalid argument), -n -1, -f FILE and -,
// --stop, --quiet, --version.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "tools/process.h"

namespace fhellm {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::fhellm_binary;

struct Result {
  int rc;
  std::string out;
};

Result run(const std::vector<std::string>& args, bool with_stderr = true) {
  std::vector<std::string> argv = {fhellm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, with_stderr);
  const int rc = p.wait_exit(120s);
  return {rc, p.output()};
}

Result shell(const std::string& command) {
  ChildProcess p({"/bin/sh", "-c", command}, true);
  const int rc = p.wait_exit(120s);
  return {rc, p.output()};
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(CliArgs, ParseErrorsAreOneLineWithExitCodeOne) {
  // Before: CLI11's own codes 105 (validation), 106 (required), 109 (extras), 114 leaked out.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"generate", "--bogus"}, {"generate", "-n", "abc"}, {"generate", "-n", "-2"},
        {"generate", "-t", "x"}, {"eval"}, {"generate", "--top-p", "3"}, {}, {"nonsense"},
        {"generate", "-p"}}) {
    const Result r = run(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.rc, 1) << joined << r.out;
    EXPECT_EQ(r.out.rfind("fhellm: error: ", 0), 0u) << joined << r.out;
    EXPECT_EQ(lines(r.out), 1u) << joined << r.out;
  }
  const Result semantic = run({"generate", "-p", "x", "-c", "100000", "--fhe", "disable"});
  EXPECT_EQ(semantic.rc, 2) << semantic.out;  // bad_command_line: invalid argument
  EXPECT_EQ(lines(semantic.out), 1u) << semantic.out;
}

TEST(CliArgs, MinusOneGeneratesUntilTheContextIsFull) {
  // Before: -n -1 wrapped to 2^64 - 1 and was refused as a context overflow.
  const Result r = run({"generate", "-p", "Once upon a time", "-n", "-1", "-c", "24", "--fhe", "disable", "--json"}, false);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  if (!j["stopped_at_eos"].get<bool>()) {
    EXPECT_EQ(j["n_prompt"].get<std::size_t>() + j["n_generated"].get<std::size_t>(), 25u) << r.out;
  }
  EXPECT_GT(j["n_generated"].get<std::size_t>(), 0u);
}

TEST(CliArgs, PromptFromAFileOrStandardInput) {
  const auto file = std::filesystem::temp_directory_path() / ("fhellm-prompt-" + std::to_string(::getpid()));
  std::ofstream(file) << "Once upon a time";
  const Result from_file = run({"generate", "-f", file.string(), "-n", "4", "--fhe", "disable", "--json"}, false);
  ASSERT_EQ(from_file.rc, 0) << from_file.out;
  const Result from_p = run({"generate", "-p", "Once upon a time", "-n", "4", "--fhe", "disable", "--json"}, false);
  EXPECT_EQ(nlohmann::json::parse(from_file.out)["ids"], nlohmann::json::parse(from_p.out)["ids"]);
  const Result from_stdin = shell("printf 'Once upon a time' | " + fhellm_binary() + " generate -f - -n 4 --fhe disable --json");
  ASSERT_EQ(from_stdin.rc, 0) << from_stdin.out;
  EXPECT_EQ(nlohmann::json::parse(from_stdin.out)["ids"], nlohmann::json::parse(from_p.out)["ids"]);
  const Result both = run({"generate", "-p", "x", "-f", file.string(), "--fhe", "disable"});
  EXPECT_EQ(both.rc, 2) << both.out;
  std::filesystem::remove(file);
}

TEST(CliArgs, StopStringsEndTheTextBeforeThem) {
  const Result full = run({"generate", "-p", "Once upon a time", "-n", "40", "--fhe", "disable", "--json"}, false);
  ASSERT_EQ(full.rc, 0) << full.out;
  const std::string text = nlohmann::json::parse(full.out)["text"];
  const std::size_t at = text.find(' ', 8);
  ASSERT_NE(at, std::string::npos) << text;
  const std::string stop = text.substr(at, 3);
  const Result r = run({"generate", "-p", "Once upon a time", "-n", "40", "--fhe", "disable", "--json", "--stop", stop},
                       false);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["text"].get<std::string>(), text.substr(0, text.find(stop))) << "stop '" << stop << "'";
  EXPECT_EQ(j["stop"].get<std::string>(), stop);
  EXPECT_LT(j["n_generated"].get<std::size_t>(), 40u);
}

TEST(CliArgs, LlamaCppNamesQuietAndTheSummary) {
  // -t is threads now (it used to mean temperature); --temp, -s, -m are aliases.
  const Result a = run({"generate", "-m", FHELLM_SOURCE_DIR "/models/stories260K.bin", "--tokenizer",
                        FHELLM_SOURCE_DIR "/models/tok512.bin", "-p", "Once", "-n", "8", "-t", "1", "--temp", "0.8",
                        "-s", "5", "--top-k", "20", "--min-p", "0.05", "--repeat-penalty", "1.1", "--fhe", "disable",
                        "--json"},
                       false);
  ASSERT_EQ(a.rc, 0) << a.out;
  const Result b = run({"generate", "-p", "Once", "-n", "8", "--temperature", "0.8", "--seed", "5", "--top-k", "20",
                        "--min-p", "0.05", "--repeat-penalty", "1.1", "--fhe", "disable", "--json"},
                       false);
  EXPECT_EQ(nlohmann::json::parse(a.out)["ids"], nlohmann::json::parse(b.out)["ids"]);
  const Result quiet = run({"generate", "-p", "Once", "-n", "3", "--fhe", "disable", "--quiet"});
  EXPECT_EQ(quiet.out.find("[fhellm]"), std::string::npos) << quiet.out;
  const Result summary = run({"generate", "-p", "Once", "-n", "3", "--fhe", "disable"});
  EXPECT_NE(summary.out.find("[fhellm]"), std::string::npos) << summary.out;
  // Before: --fhe disable reported the remote modules' calls, though nothing is remote.
  EXPECT_NE(summary.out.find(" 0 remote calls"), std::string::npos) << summary.out;
  const Result verbose = run({"generate", "-p", "Once", "-n", "3", "--fhe", "disable", "-v"});
  EXPECT_NE(verbose.out.find("vocabulary 512"), std::string::npos) << verbose.out;
}

TEST(CliArgs, LongStepsShowPlainProgressLinesWhenPiped) {
  const auto text = std::filesystem::temp_directory_path() / ("fhellm-progress-" + std::to_string(::getpid()));
  std::ofstream(text) << "Once upon a time, there was a little girl named Lily. She loved to play outside.";
  const Result r = run({"eval", "--text", text.string(), "-c", "8"});
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("eval: tokens scored (fhe simulate) ["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("100% "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "a pipe gets lines, not a redrawn bar";
  const Result quiet = run({"--quiet", "eval", "--text", text.string(), "-c", "8"});
  EXPECT_EQ(quiet.out.find("tokens scored"), std::string::npos) << quiet.out;
  const auto out = std::filesystem::temp_directory_path() / ("fhellm-progress-c-" + std::to_string(::getpid()));
  const Result compile = run({"compile", "--model", FHELLM_SOURCE_DIR "/models/stories260K.bin", "--out", out.string()});
  EXPECT_NE(compile.out.find("compile: quantizing layer groups ["), std::string::npos) << compile.out;
  for (const char* ext : {".client", ".server"}) std::filesystem::remove(out.string() + ext);
  std::filesystem::remove(text);
}

TEST(CliArgs, VersionNamesTheBuildAndTheCpuFeatures) {
  const Result r = run({"--version"}, false);
  EXPECT_EQ(r.rc, 0);
  for (const char* s : {"fhellm ", "build: ", "commit ", "cpu: avx2 ", "avx512-ifma ", "kernels in use: ", "threads: "})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " missing in " << r.out;
}

}  // namespace
}  // namespace fhellm
