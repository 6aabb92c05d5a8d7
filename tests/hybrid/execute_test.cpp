// execute mode with the server in this process: the same integers as
// simulate, hence the same greedy tokens.
#include <gtest/gtest.h>

#include <filesystem>

#include "fhellm/error.h"
#include "fhellm/he/linear.h"
#include "fhellm/hybrid/execute_backend.h"
#include "fhellm/hybrid/hybrid_model.h"

namespace fhellm::hybrid {
namespace {

const std::filesystem::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";

std::vector<TokenId> greedy(HybridModel& hm, FheMode mode, std::size_t n) {
  hm.set_mode(mode);
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378};
  return hm.generate(prompt, n, {{0.0f, 0, 1.0f, 0}, false}).ids;
}

TEST(ExecuteModel, InProcessExactGivesSimulateTokens) {
  HybridModel hm = HybridModel::load(kStories);
  auto stats = std::make_shared<ExecuteStats>();
  use_execute_in_process(hm, {he::LinearPrecision::exact, 8}, stats);
  const auto simulated = greedy(hm, FheMode::simulate, 8);
  const auto executed = greedy(hm, FheMode::execute, 8);
  EXPECT_EQ(executed, simulated);
  // 5 layers x 4 groups + the head, per forward pass (prefill + 7 decode steps).
  EXPECT_EQ(stats->n_calls, 21u * 8);
  EXPECT_GT(stats->channel.bytes_up, 0u);
  EXPECT_GT(stats->channel.bytes_down, 0u);
  EXPECT_GT(stats->key_upload_bytes, 0u);
  EXPECT_GT(stats->client_seconds, 0.0);
}

TEST(ExecuteModel, InProcessStandardPrecisionKeepsGreedyTokens) {
  HybridModel hm = HybridModel::load(kStories);
  use_execute_in_process(hm, {he::LinearPrecision::standard, 8});
  EXPECT_EQ(greedy(hm, FheMode::execute, 6), greedy(hm, FheMode::simulate, 6));
}

TEST(RemoteModelDescription, RoundTripsAndRefusesHostileBytes) {
  HybridModel hm = HybridModel::load(kStories);
  auto service = make_remote_service(hm);
  const Bytes bytes = service->description();
  const RemoteModelDescription d = RemoteModelDescription::decode(bytes);
  EXPECT_EQ(d.architecture, "llama");
  EXPECT_EQ(d.linears.size(), 21u);
  EXPECT_EQ(d.encode(), bytes);
  auto code = [](const Bytes& b) {
    try {
      RemoteModelDescription::decode(b);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal_error;
  };
  for (std::size_t n = 0; n < bytes.size(); n += 97) {
    EXPECT_NE(code(Bytes(bytes.begin(), bytes.begin() + n)), ErrorCode::internal_error) << n;
  }
  Bytes bad = bytes;
  bad[0] ^= 1;
  EXPECT_EQ(code(bad), ErrorCode::bad_magic);
  bad = bytes;
  bad[4] = 7;
  EXPECT_EQ(code(bad), ErrorCode::bad_version);
  bad = bytes;
  bad.push_back(0);
  EXPECT_EQ(code(bad), ErrorCode::trailing_bytes);
}

TEST(RemoteLinearService, RefusesUnknownLayersAndWrongShapes) {
  HybridModel hm = HybridModel::load(kStories);
  auto service = make_remote_service(hm);
  InProcessChannel channel(*service);
  he::LinearClient client;
  channel.open_session(client.server_keys().save());
  const std::vector<std::uint8_t> x(64, 3);
  const Bytes upload = client.encrypt(std::span<const std::uint8_t>(x), {1, 64, 64});
  auto code = [&](std::vector<std::uint32_t> ids) {
    try {
      channel.call(ids, upload);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal_error;
  };
  EXPECT_EQ(code({12345}), ErrorCode::unknown_layer);
  EXPECT_EQ(code({linear_wire_id({0, LinearKind::qkv})}), ErrorCode::shape_mismatch);  // qkv is 192 x 64
  EXPECT_EQ(code({linear_wire_id({0, LinearKind::attn_out}), linear_wire_id({1, LinearKind::attn_out})}),
            ErrorCode::bad_message);
  const Bytes ok = channel.call(std::vector<std::uint32_t>{linear_wire_id({0, LinearKind::attn_out})}, upload);
  EXPECT_EQ(client.decrypt(ok).size(), 64u);
}

}  // namespace
}  // namespace fhellm::hybrid
