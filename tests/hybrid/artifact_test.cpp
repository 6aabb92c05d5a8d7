// compile -> NAME.server + NAME.client -> execute from the two artifacts
// gives simulate's tokens; damaged artifacts are refused with their code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <fstream>

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

class ArtifactTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("fhellm-artifact-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    report_ = compile_artifacts(kStories, dir_ / "stories", {});
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static Bytes read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }
  static void write(const fs::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  // Recomputes the trailing FNV-1a checksum, so only the field checks can
  // catch an edit.
  static void reseal(Bytes& b) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i + 8 < b.size(); ++i) {
      h ^= b[i];
      h *= 0x100000001b3ull;
    }
    for (int i = 0; i < 8; ++i) b[b.size() - 8 + i] = static_cast<std::uint8_t>(h >> (8 * i));
  }
  template <class F>
  static std::string message_of(F f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  template <class F>
  static ErrorCode code_of(F f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal_error;
  }
  static inline fs::path dir_;
  static inline CompileReport report_;
};

TEST_F(ArtifactTest, ExecuteFromArtifactsGivesSimulateTokens) {
  EXPECT_EQ(report_.n_remote, 22u);  // the token table and the 21 linear groups
  EXPECT_GT(report_.server_bytes, 0u);
  std::shared_ptr<RemoteLinearService> service = load_server_artifact(report_.server_path);
  ClientArtifact client = load_client_artifact(report_.client_path);
  EXPECT_EQ(client.remote.size(), 22u);
  EXPECT_EQ(client.description_bytes, service->description());
  EXPECT_GT(client.tokenizer->vocab_size(), 0u);

  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378};
  const GenerateOptions greedy{{0.0f, 0, 1.0f, 0}, false};
  HybridModel reference = HybridModel::load(kStories);
  reference.set_mode(FheMode::simulate);
  const auto expected = reference.generate(prompt, 6, greedy).ids;

  HybridModel hm(client.model);
  hm.set_remote_modules(client.remote);
  hm.set_quantization(client.description.quant);
  use_execute(hm, [&](HybridModel&) { return std::make_unique<InProcessChannel>(*service); });
  hm.set_mode(FheMode::execute);
  EXPECT_EQ(hm.generate(prompt, 6, greedy).ids, expected);
}

TEST_F(ArtifactTest, ServerArtifactHoldsNoEmbeddingAndClientNoRemoteWeight) {
  // stories260K: 512 x 64 embedding (tied head) = 131 KB of floats; the
  // server file holds int8 weights only.
  const Bytes server = read(report_.server_path);
  EXPECT_LT(server.size(), 300000u);
  const Bytes client = read(report_.client_path);
  // Client: embeddings + norms + tokenizer, no 4-byte copy of the ~230K linear weights.
  EXPECT_LT(client.size(), 400000u);
}

TEST_F(ArtifactTest, DamagedArtifactsAreRefused) {
  const Bytes server = read(report_.server_path);
  const Bytes client = read(report_.client_path);
  const fs::path bad = dir_ / "bad.bin";
  Bytes b = server;
  b[b.size() / 2] ^= 0x40;
  write(bad, b);
  EXPECT_EQ(code_of([&] { load_server_artifact(bad); }), ErrorCode::bad_artifact);
  write(bad, Bytes(server.begin(), server.begin() + server.size() / 3));
  EXPECT_EQ(code_of([&] { load_server_artifact(bad); }), ErrorCode::bad_artifact);
  write(bad, Bytes(server.begin(), server.begin() + 7));
  EXPECT_EQ(code_of([&] { load_server_artifact(bad); }), ErrorCode::truncated);
  write(bad, client);
  EXPECT_EQ(code_of([&] { load_server_artifact(bad); }), ErrorCode::bad_magic);
  b = client;
  b[4] = 9;
  write(bad, b);
  EXPECT_EQ(code_of([&] { load_client_artifact(bad); }), ErrorCode::bad_version);
  b = client;
  b[client.size() - 20] ^= 1;
  write(bad, b);
  EXPECT_EQ(code_of([&] { load_client_artifact(bad); }), ErrorCode::bad_artifact);
  EXPECT_EQ(code_of([&] { load_client_artifact(dir_ / "missing.client"); }), ErrorCode::file_not_found);
}

// Values the checksum covers but the format forbids: an int8 weight of -128
// (the quantizer's range is +-127) and a NaN in a client tensor.
TEST_F(ArtifactTest, ResealedOutOfRangeValuesAreRefused) {
  const fs::path bad = dir_ / "resealed.bin";
  Bytes server = read(report_.server_path);
  // The last entry is the tied LM head: a reference to the token table (u32
  // 0), the 4 bytes before the checksum; the last weight of the last layer
  // comes just before it.
  ASSERT_EQ(std::vector<std::uint8_t>(server.end() - 12, server.end() - 8), std::vector<std::uint8_t>(4, 0));
  server[server.size() - 13] = 0x80;
  reseal(server);
  write(bad, server);
  EXPECT_NE(message_of([&] { load_server_artifact(bad); }).find("outside +-127"), std::string::npos);

  // The final norm's first values, found in the client file and one set to NaN.
  const auto model = model::load_model(kStories);
  const std::vector<float>& norm = model->weights().final_norm;
  ASSERT_GE(norm.size(), 4u);
  const auto* pattern = reinterpret_cast<const std::uint8_t*>(norm.data());
  Bytes client = read(report_.client_path);
  const auto at = std::search(client.begin(), client.end(), pattern, pattern + 16);
  ASSERT_NE(at, client.end());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&*at, &nan, 4);
  reseal(client);
  write(bad, client);
  EXPECT_NE(message_of([&] { load_client_artifact(bad); }).find("non-finite"), std::string::npos);
}

// A layer id no layer has, under a valid checksum, is a bad file (exit 3),
// not a caller's invalid argument (it exited 2 before).
TEST_F(ArtifactTest, ImpossibleLayerIdUnderAValidChecksumIsABadArtifact) {
  Bytes b = read(report_.server_path);
  // 12: description; its arch string at 20 (u32 length), then 3 x u32, 4 bytes, u32 count, first wire id.
  const std::size_t arch_len = b[20] | (b[21] << 8);
  const std::size_t wire = 24 + arch_len + 12 + 4 + 4;
  for (int i = 0; i < 4; ++i) b[wire + i] = 0xFF;
  reseal(b);
  const fs::path bad = dir_ / "bad-layer.server";
  write(bad, b);
  try {
    load_server_artifact(bad);
    FAIL() << "loaded an artifact with layer id 0xFFFFFFFF";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_artifact) << e.what();
    EXPECT_EQ(exit_code_for(e.kind()), 3);
  }
}

}  // namespace
}  // namespace fhellm::hybrid
