// NAME.client loads into a model that holds no remote weight (no zero-filled
// stand-ins): the remote groups take no memory, execute against the server
// artifact still gives simulate's tokens, and the modes that would need the
// missing weights on the client (disable, simulate, a local absent group) are
// refused by set_mode / set_remote_modules, before generation starts.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <unistd.h>

#include "fhellm/error.h"
#include "hybrid/artifact.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;
const fs::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const fs::path kGpt2Tiny = FHELLM_SHARED_DIR "/models/gpt2-tiny-random";
const fs::path kGpt2Vimdoc = FHELLM_SHARED_DIR "/models/gpt2-vimdoc-small";

template <class F>
ErrorCode code_of(F f, const std::string& must_mention = "") {
  try {
    f();
  } catch (const Error& e) {
    if (!must_mention.empty()) {
      EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
    }
    return e.code();
  }
  return ErrorCode::internal_error;
}

const GenerateOptions kGreedy{{0.0f, 0, 1.0f, 0}, false};

// Bytes of the float weights of `ids` in `full` that a client need not hold
// (a tied head is the token table: counted once, through the table's id).
std::size_t remote_weight_bytes(const model::Model& full, const std::vector<LinearId>& ids) {
  std::size_t bytes = 0;
  for (LinearId id : ids) {
    if (id.kind == LinearKind::lm_head && full.config().tied_head) continue;
    const model::LinearView v = full.linear(id);
    bytes += v.n_out * v.n_in * sizeof(float);
  }
  return bytes;
}

// The client artifact's model driven in execute mode by the server artifact, in process.
std::vector<TokenId> execute_tokens(const CompileReport& report, const std::vector<TokenId>& prompt, std::size_t n) {
  std::shared_ptr<RemoteLinearService> service = load_server_artifact(report.server_path);
  ClientArtifact client = load_client_artifact(report.client_path);
  HybridModel hm(client.model);
  hm.set_remote_modules(client.remote);
  hm.set_quantization(client.description.quant);
  use_execute(hm, [service](HybridModel&) { return std::make_unique<InProcessChannel>(*service); });
  hm.set_mode(FheMode::execute);
  return hm.generate(prompt, n, kGreedy).ids;
}

// simulate on the full model with the same remote set.
std::vector<TokenId> simulate_tokens(const fs::path& model, const std::string& remote,
                                     const std::vector<TokenId>& prompt, std::size_t n) {
  HybridModel hm = HybridModel::load(model);
  hm.set_remote_modules(remote);
  hm.set_mode(FheMode::simulate);
  return hm.generate(prompt, n, kGreedy).ids;
}

class ClientArtifactTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fhellm-client-artifact-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    stories_all_ = compile_artifacts(kStories, dir_ / "stories-all", {});
    CompileOptions qkv_head;
    qkv_head.remote = "qkv,lm_head";
    stories_qkv_head_ = compile_artifacts(kStories, dir_ / "stories-qkv-head", qkv_head);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_;
  static inline CompileReport stories_all_, stories_qkv_head_;
  const std::vector<TokenId> prompt_ = {1, 403, 407, 261, 378};
};

TEST_F(ClientArtifactTest, RemoteWeightsTakeNoClientMemory) {
  const HybridModel full = HybridModel::load(kStories);
  const ClientArtifact client = load_client_artifact(stories_all_.client_path);
  const model::Model& m = *client.model;
  ASSERT_EQ(client.remote.size(), 22u);  // the token table and the 21 linear groups
  for (LinearId id : client.remote) {
    const model::LinearView v = m.linear(id), f = full.model().linear(id);
    EXPECT_EQ(v.n_out, f.n_out) << model::linear_name(id);
    EXPECT_EQ(v.n_in, f.n_in) << model::linear_name(id);
    // The tied head (stories260K's) is the token table: absent with it.
    EXPECT_FALSE(m.holds_weight(id)) << model::linear_name(id);
    EXPECT_EQ(v.weight, nullptr) << model::linear_name(id);
  }
  EXPECT_TRUE(m.weights().token_embedding.empty());
  EXPECT_EQ(m.absent_linears().size(), 22u);
  const std::size_t remote = remote_weight_bytes(full.model(), client.remote);
  ASSERT_GT(remote, 0u);
  EXPECT_EQ(m.weight_bytes(), full.model().weight_bytes() - remote);
  EXPECT_EQ(m.n_parameters(), full.model().n_parameters());
}

// (execute from this artifact pair giving simulate's tokens: artifact_test.cpp)
TEST_F(ClientArtifactTest, LocalModesAreRefusedBeforeGeneration) {
  const ClientArtifact client = load_client_artifact(stories_all_.client_path);
  HybridModel hm(client.model);
  EXPECT_EQ(hm.mode(), FheMode::execute);  // the only mode that runs it
  hm.set_remote_modules(client.remote);
  hm.set_quantization(client.description.quant);
  // disable: the float lookup of a table the client does not have.
  EXPECT_EQ(code_of([&] { hm.set_mode(FheMode::disable); }, "'disable' would compute token_embedding"),
            ErrorCode::invalid_argument);
  // simulate: quantizing weights the client does not have.
  EXPECT_EQ(code_of([&] { hm.set_mode(FheMode::simulate); }, "'simulate' would compute token_embedding"),
            ErrorCode::invalid_argument);
  // No remote module: every group would run as a local float product.
  EXPECT_EQ(code_of([&] { hm.set_remote_modules("none"); }, "token_embedding cannot run locally"),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { hm.set_remote_modules("embedding,layers.0"); }, "layers.1.qkv cannot run locally"),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { hm.set_remote_modules("all-linear"); }, "token_embedding cannot run locally"),
            ErrorCode::invalid_argument);
  // A refusal changes nothing.
  EXPECT_EQ(hm.mode(), FheMode::execute);
  EXPECT_EQ(hm.remote_modules(), client.remote);
  // An in-process server built from the client's own model has nothing to serve.
  use_execute_in_process(hm);
  hm.set_mode(FheMode::execute);
  EXPECT_EQ(code_of([&] { hm.generate(prompt_, 2, kGreedy); }), ErrorCode::invalid_argument);
}

TEST_F(ClientArtifactTest, OnlyTheAbsentGroupsMustStayRemote) {
  const ClientArtifact client = load_client_artifact(stories_qkv_head_.client_path);
  HybridModel hm(client.model);
  // The tied head is the embedding, which the client holds: it may run locally.
  EXPECT_NO_THROW(hm.set_remote_modules("qkv"));
  EXPECT_EQ(hm.remote_modules().size(), 5u);
  EXPECT_EQ(code_of([&] { hm.set_remote_modules("lm_head"); }, "layers.0.qkv cannot run locally"),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { hm.set_remote_modules({LinearId{0, LinearKind::qkv}}); }, "layers.1.qkv"),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { hm.set_mode(FheMode::simulate); }, "layers.0.qkv"), ErrorCode::invalid_argument);
  // A model holding every weight runs any mode and remote set.
  HybridModel full = HybridModel::load(kStories);
  EXPECT_EQ(full.mode(), FheMode::simulate);
  EXPECT_NO_THROW(full.set_remote_modules("none"));
  EXPECT_NO_THROW(full.set_mode(FheMode::disable));
  EXPECT_NO_THROW(full.set_mode(FheMode::simulate));
}

TEST_F(ClientArtifactTest, PartialRemoteSetKeepsTheLocalWeights) {
  const HybridModel full = HybridModel::load(kStories);
  const ClientArtifact client = load_client_artifact(stories_qkv_head_.client_path);
  const model::Model& m = *client.model;
  EXPECT_EQ(client.remote.size(), 6u);  // 5 qkv + the head
  for (LinearId id : m.linear_ids()) {
    const bool absent = id.kind == LinearKind::qkv;
    EXPECT_EQ(m.holds_weight(id), !absent) << model::linear_name(id);
    if (!absent) {  // local groups keep their exact float weights
      const model::LinearView v = m.linear(id), f = full.model().linear(id);
      EXPECT_TRUE(std::equal(v.weight, v.weight + v.n_out * v.n_in, f.weight)) << model::linear_name(id);
    }
  }
  EXPECT_EQ(m.weight_bytes(), full.model().weight_bytes() - remote_weight_bytes(full.model(), client.remote));
  EXPECT_EQ(execute_tokens(stories_qkv_head_, prompt_, 4), simulate_tokens(kStories, "qkv,lm_head", prompt_, 4));
}

TEST_F(ClientArtifactTest, Gpt2BiasesStayAndExecuteGivesSimulateTokens) {
  if (!fs::exists(kGpt2Tiny)) GTEST_SKIP() << "needs ../shared: no " << kGpt2Tiny;
  const CompileReport report = compile_artifacts(kGpt2Tiny, dir_ / "gpt2-tiny", {});
  const HybridModel full = HybridModel::load(kGpt2Tiny);
  const ClientArtifact client = load_client_artifact(report.client_path);
  const model::Model& m = *client.model;
  for (LinearId id : client.remote) {
    EXPECT_FALSE(m.holds_weight(id)) << model::linear_name(id);
    if (id.kind == LinearKind::lm_head || model::is_embedding(id.kind)) continue;  // no bias
    const model::LinearView v = m.linear(id), f = full.model().linear(id);
    ASSERT_NE(v.bias, nullptr) << model::linear_name(id);
    EXPECT_TRUE(std::equal(v.bias, v.bias + v.n_out, f.bias)) << model::linear_name(id);
  }
  EXPECT_EQ(m.weight_bytes(), full.model().weight_bytes() - remote_weight_bytes(full.model(), client.remote));
  const std::vector<TokenId> prompt = {464, 2068, 7586, 21831};
  EXPECT_EQ(execute_tokens(report, prompt, 3), simulate_tokens(kGpt2Tiny, "default", prompt, 3));
}

TEST_F(ClientArtifactTest, CompilesAModelInMemory) {
  // Random weights of a real shape, as benchmarks use; the tokenizer is named.
  const auto random = model::random_model(model::shape_preset("stories260k"), 11);
  CompileOptions options;
  options.tokenizer = FHELLM_SOURCE_DIR "/models/tok512.bin";
  const CompileReport report = compile_artifacts(random, dir_ / "random", options);
  EXPECT_EQ(report.n_remote, 22u);
  const ClientArtifact client = load_client_artifact(report.client_path);
  EXPECT_TRUE(client.model->weights().token_embedding.empty());  // on the server
  EXPECT_EQ(client.model->weights().final_norm, random->weights().final_norm);
  EXPECT_EQ(client.model->weight_bytes(), random->weight_bytes() - remote_weight_bytes(*random, client.remote));
  EXPECT_EQ(client.tokenizer->vocab_size(), 512u);
  // Without a tokenizer there is nothing to look next to.
  EXPECT_EQ(code_of([&] { compile_artifacts(random, dir_ / "random2", {}); }, "tokenizer"),
            ErrorCode::invalid_argument);
  EXPECT_FALSE(fs::exists(dir_ / "random2.client"));
}

// The tensor counts of a client artifact, read from the file as artifact.h
// lays it out: header, config, description, then every tensor's count.
std::vector<std::uint32_t> client_tensor_counts(const fs::path& path, std::size_t n_layers) {
  std::ifstream in(path, std::ios::binary);
  const Bytes b((std::istreambuf_iterator<char>(in)), {});
  auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(b.at(at + i)) << (8 * i);
    return v;
  };
  std::size_t at = 8 + 68;            // header, config
  at += 4 + u32(at);                  // description
  std::vector<std::uint32_t> counts;
  const std::size_t tensors = 2 + 12 * n_layers + 3;
  for (std::size_t t = 0; t < tensors; ++t) {
    counts.push_back(u32(at));
    at += 4 + 4 * std::size_t{counts.back()};
  }
  return counts;
}

// By default the client artifact holds no tensor whose size grows with the
// vocabulary (the token table and the LM head are on the server).
TEST_F(ClientArtifactTest, DefaultClientHoldsNoVocabularySizedTensor) {
  const auto stories = client_tensor_counts(stories_all_.client_path, 5);
  for (std::uint32_t c : stories) EXPECT_LT(c, 512u);
  EXPECT_EQ(stories.front(), 0u);  // the token table's count
  if (!fs::exists(kGpt2Vimdoc)) GTEST_SKIP() << "needs ../shared: no " << kGpt2Vimdoc;
  const CompileReport report = compile_artifacts(kGpt2Vimdoc, dir_ / "vimdoc", {});
  const auto gpt2 = client_tensor_counts(report.client_path, 4);
  for (std::uint32_t c : gpt2) EXPECT_LT(c, 50257u);
  EXPECT_EQ(gpt2[0], 0u);           // token table
  EXPECT_EQ(gpt2[1], 128u * 128u);  // the learned positions stay (context x dim)
  std::printf("[artifact] gpt2-vimdoc-small client %.2f MB, server %.2f MB\n", report.client_bytes / 1e6,
              report.server_bytes / 1e6);
  // The tied head is stored once on the server: the table's values and a reference.
  EXPECT_LT(report.server_bytes, 50257u * 128u * 3 / 2);
}

// The client file is read in pieces, never whole: hostile lengths and values
// behind a valid checksum still get their exact error.
TEST_F(ClientArtifactTest, HostileClientFilesAreRefusedWithTheirCode) {
  // The artifact whose client keeps its token table (remote "qkv,lm_head").
  std::ifstream in(stories_qkv_head_.client_path, std::ios::binary);
  const Bytes good((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(good.size(), 200u);
  auto put_u32 = [](Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  auto get_u32 = [](const Bytes& b, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(b[at + i]) << (8 * i);
    return v;
  };
  // The trailer: FNV-1a 64 of every byte before it (artifact.h).
  auto reseal = [](Bytes b) {
    b.resize(b.size() - 8);
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::uint8_t x : b) h = (h ^ x) * 0x100000001b3ull;
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(h >> (8 * i)));
    return b;
  };
  const fs::path bad = dir_ / "hostile.client";
  auto write = [&](const Bytes& b) {
    std::ofstream(bad, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  auto load = [&](const Bytes& b) {
    write(b);
    return code_of([&] { load_client_artifact(bad); });
  };
  write(reseal(good));  // resealing an unchanged file keeps it valid
  EXPECT_NO_THROW(load_client_artifact(bad));
  // Header 8 bytes, config 68 bytes, then the description's length and bytes,
  // then the token embedding's count.
  const std::size_t embedding_at = 8 + 68 + 4 + get_u32(good, 8 + 68);
  ASSERT_EQ(get_u32(good, embedding_at), 512u * 64u);
  Bytes b = good;
  put_u32(b, embedding_at, std::numeric_limits<std::uint32_t>::max());
  EXPECT_EQ(load(reseal(b)), ErrorCode::length_too_large);
  b = good;
  put_u32(b, embedding_at, static_cast<std::uint32_t>(good.size()));  // more floats than bytes left
  EXPECT_EQ(load(reseal(b)), ErrorCode::truncated);
  b = good;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&b[embedding_at + 4 + 40], &nan, 4);
  EXPECT_EQ(load(reseal(b)), ErrorCode::bad_artifact);
  b = good;
  b.insert(b.end() - 8, {1, 2, 3});
  EXPECT_EQ(load(reseal(b)), ErrorCode::trailing_bytes);
  EXPECT_EQ(load(Bytes(good.begin(), good.begin() + 12)), ErrorCode::truncated);
  EXPECT_EQ(load(Bytes(good.begin(), good.begin() + good.size() / 2)), ErrorCode::bad_artifact);
  b = good;
  b[0] ^= 1;
  EXPECT_EQ(load(b), ErrorCode::bad_magic);
}

}  // namespace
}  // namespace fhellm::hybrid
