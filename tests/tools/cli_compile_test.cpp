// fhellm compile --random-weights: artifacts of a named shape without its
// weights. Argument errors get their exit code and a message naming the
// problem; one real compile of the small stories260k shape (GPT-2 124M and
// Llama 3.2 1B are too slow to build here).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "hybrid/artifact.h"
#include "model/loader.h"
#include "tools/process.h"

namespace fhellm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::fhellm_binary;

const std::string kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const std::string kTok512 = FHELLM_SOURCE_DIR "/models/tok512.bin";

// Runs fhellm with `args`; returns (exit code, stdout and stderr).
std::pair<int, std::string> run(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {fhellm_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, true);
  const int rc = p.wait_exit(120s);
  return {rc, p.output()};
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class CliCompile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fhellm_binary())) << fhellm_binary() << " is not built";
    dir_ = fs::temp_directory_path() / ("fhellm-cli-compile-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Expects exit code `rc`, an output mentioning `needle`, and no artifact written.
  void expect_refused(const std::vector<std::string>& args, int rc, const std::string& needle) {
    std::vector<std::string> full = {"compile", "--out", (dir_ / "x").string()};
    full.insert(full.end(), args.begin(), args.end());
    const auto [got_rc, out] = run(full);
    EXPECT_EQ(got_rc, rc) << out;
    EXPECT_NE(out.find(needle), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(dir_ / "x.client"));
    EXPECT_FALSE(fs::exists(dir_ / "x.server"));
  }
  fs::path dir_;
};

TEST_F(CliCompile, ArgumentErrorsAreRefusedWithTheirExitCode) {
  // 2: bad_command_line / invalid_argument; 6: file_not_found (README.md, "Exit codes").
  expect_refused({}, 2, "exactly one of --model PATH or --random-weights");
  expect_refused({"--model", kStories, "--random-weights", "--shape", "stories260k", "--tokenizer", kTok512}, 2,
                 "exactly one of --model PATH or --random-weights");
  expect_refused({"--random-weights", "--tokenizer", kTok512}, 2, "needs --shape");
  expect_refused({"--random-weights", "--shape", "stories260k"}, 2, "needs --tokenizer");
  expect_refused({"--random-weights", "--shape", "gpt2-7b", "--tokenizer", kTok512}, 2, "unknown shape 'gpt2-7b'");
  expect_refused({"--random-weights", "--shape", "stories260k", "--tokenizer", (dir_ / "none.bin").string()}, 6,
                 "none.bin' not found");
  expect_refused({"--model", kStories, "--shape", "stories260k"}, 2, "--shape and --seed go with --random-weights");
  expect_refused({"--model", kStories, "--seed", "3"}, 2, "--shape and --seed go with --random-weights");
}

TEST_F(CliCompile, HelpDocumentsRandomWeights) {
  const auto [rc, out] = run({"compile", "--help"});
  EXPECT_EQ(rc, 0) << out;
  for (const char* s : {"--random-weights", "--shape", "--seed", "gpt2-124m", "llama-3.2-1b"})
    EXPECT_NE(out.find(s), std::string::npos) << s << " missing from:\n" << out;
}

TEST_F(CliCompile, RandomWeightsOfASmallShapeGiveArtifactsOfThatShape) {
  const auto compile = [&](const std::string& name, const std::string& seed) {
    return run({"compile", "--random-weights", "--shape", "stories260k", "--seed", seed, "--tokenizer", kTok512,
                "--out", (dir_ / name).string()});
  };
  const auto [rc, out] = compile("a", "5");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("random weights of shape stories260k, seed 5"), std::string::npos) << out;

  const model::ModelConfig shape = model::shape_preset("stories260k");
  const hybrid::ClientArtifact client = hybrid::load_client_artifact(dir_ / "a.client");
  const model::ModelConfig& c = client.model->config();
  EXPECT_EQ(c.dim, shape.dim);
  EXPECT_EQ(c.hidden_dim, shape.hidden_dim);
  EXPECT_EQ(c.n_layers, shape.n_layers);
  EXPECT_EQ(c.n_kv_heads, shape.n_kv_heads);
  EXPECT_EQ(c.vocab_size, shape.vocab_size);
  EXPECT_EQ(client.remote.size(), 4 * shape.n_layers + 2);  // the token table, the linear groups, the head
  // The same weights as random_model of that seed, minus the remote ones.
  const auto random = model::random_model(shape, 5);
  EXPECT_TRUE(client.model->weights().token_embedding.empty());
  EXPECT_FALSE(client.model->holds_weight({-1, model::LinearKind::token_embedding}));
  EXPECT_EQ(client.model->weights().final_norm, random->weights().final_norm);
  EXPECT_EQ(client.model->weights().layers[0].attn_norm, random->weights().layers[0].attn_norm);
  EXPECT_FALSE(client.model->holds_weight({0, model::LinearKind::qkv}));
  EXPECT_EQ(client.tokenizer->vocab_size(), 512u);
  const auto server = hybrid::load_server_artifact(dir_ / "a.server");
  ASSERT_NE(server, nullptr);

  // Deterministic per seed; another seed gives other weights.
  ASSERT_EQ(compile("b", "5").first, 0);
  ASSERT_EQ(compile("c", "6").first, 0);
  EXPECT_EQ(file_bytes(dir_ / "a.server"), file_bytes(dir_ / "b.server"));
  EXPECT_NE(file_bytes(dir_ / "a.server"), file_bytes(dir_ / "c.server"));
}

}  // namespace
}  // namespace fhellm
