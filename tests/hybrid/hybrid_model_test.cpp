// HybridModel: remote module selection, modes, the execute plug-in hook.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "fhellm/error.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"

namespace fhellm::hybrid {
namespace {

HybridModel tiny() { return HybridModel(model::random_model(model::shape_preset("stories260k"), 5)); }

TEST(HybridModelApi, RemoteModuleSpecs) {
  HybridModel hm = tiny();
  // Default: the token table and every linear layer, LM head included.
  EXPECT_EQ(hm.remote_modules().size(), 22u);
  EXPECT_TRUE(hm.is_remote({-1, LinearKind::token_embedding}));
  hm.set_remote_modules("all-linear");
  EXPECT_EQ(hm.remote_modules().size(), 21u);
  EXPECT_FALSE(hm.is_remote({-1, LinearKind::token_embedding}));
  hm.set_remote_modules("all");  // stories260K (Llama) has no position table
  EXPECT_EQ(hm.remote_modules().size(), 22u);
  hm.set_remote_modules("embedding");
  EXPECT_EQ(hm.remote_modules(), (std::vector<LinearId>{{-1, LinearKind::token_embedding}}));
  EXPECT_THROW(hm.set_remote_modules("positions"), Error);  // rotary positions: no table
  hm.set_remote_modules("qkv,lm_head");
  EXPECT_EQ(hm.remote_modules().size(), 6u);
  EXPECT_TRUE(hm.is_remote({2, LinearKind::qkv}));
  EXPECT_TRUE(hm.is_remote({-1, LinearKind::lm_head}));
  EXPECT_FALSE(hm.is_remote({2, LinearKind::mlp_up}));
  hm.set_remote_modules("layers.1, layers.4.mlp_down");
  EXPECT_EQ(hm.remote_modules().size(), 5u);
  hm.set_remote_modules("none");
  EXPECT_TRUE(hm.remote_modules().empty());
  try {
    hm.set_remote_modules("layers.9");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unknown_layer);
    EXPECT_NE(std::string(e.what()).find("layers.9"), std::string::npos);
  }
  EXPECT_THROW(hm.set_remote_modules(std::vector<LinearId>{{7, LinearKind::qkv}}), Error);
}

TEST(HybridModelApi, WireIdsRoundTrip) {
  HybridModel hm = tiny();
  for (LinearId id : all_modules(hm.model())) EXPECT_EQ(linear_from_wire_id(linear_wire_id(id)), id);
  EXPECT_EQ(linear_wire_id({-1, LinearKind::lm_head}), 4u);
  EXPECT_EQ(linear_wire_id({-1, LinearKind::token_embedding}), 5u);
  EXPECT_EQ(linear_wire_id({-1, LinearKind::position_embedding}), 6u);
  EXPECT_THROW(linear_from_wire_id(13), Error);  // layer 0 + the token table is not a thing
  EXPECT_THROW(linear_from_wire_id(12), Error);  // layer 0 + kind 4 is not a thing
  EXPECT_THROW(linear_from_wire_id(7), Error);
}

TEST(HybridModelApi, ModesAndTheExecuteHook) {
  HybridModel hm = tiny();
  EXPECT_EQ(parse_fhe_mode("simulate"), FheMode::simulate);
  EXPECT_THROW(parse_fhe_mode("fast"), Error);
  try {
    hm.set_mode(FheMode::execute);
    FAIL() << "execute available without a backend";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_mode);
  }
  // A stand-in execute backend: the simulate arithmetic, counting the calls it sees.
  struct Counting final : LinearBackend {
    Counting(const model::Model& m, std::shared_ptr<const QuantizedLinears> q) : inner(m, std::move(q)) {}
    FheMode mode() const override { return FheMode::execute; }
    void apply(LinearId id, const float* x, std::size_t rows, float* y) override {
      seen.push_back(id);
      inner.apply(id, x, rows, y);
    }
    void lookup(LinearId table, std::span<const TokenId> ids, float* out) override {
      seen.push_back(table);
      inner.lookup(table, ids, out);
    }
    SimulateBackend inner;
    std::vector<LinearId> seen;
  };
  Counting* counting = nullptr;
  hm.set_backend_factory(FheMode::execute, [&](HybridModel& h) {
    auto b = std::make_unique<Counting>(h.model(), h.quantized_linears());
    counting = b.get();
    return b;
  });
  hm.set_remote_modules("mlp_down,lm_head");
  hm.set_mode(FheMode::execute);
  const std::vector<TokenId> prompt = {1, 5, 9};
  const auto r = hm.generate(prompt, 4, {{0.0f, 0, 1.0f, 0}, false});
  ASSERT_NE(counting, nullptr);
  EXPECT_EQ(counting->seen.size(), 4u * 6u);  // 4 forwards x (5 mlp_down + head): only remote modules
  for (LinearId id : counting->seen) EXPECT_TRUE(id.kind == LinearKind::mlp_down || id.kind == LinearKind::lm_head);
  // Same integers as simulate: identical greedy ids.
  hm.set_mode(FheMode::simulate);
  EXPECT_EQ(hm.generate(prompt, 4, {{0.0f, 0, 1.0f, 0}, false}).ids, r.ids);
  // A remote token table: one lookup per forward (the prompt's ids in one).
  hm.set_remote_modules("embedding,lm_head");
  hm.set_mode(FheMode::execute);
  const auto e = hm.generate(prompt, 4, {{0.0f, 0, 1.0f, 0}, false});
  EXPECT_EQ(counting->seen.size(), 4u * 2u);
  EXPECT_EQ(counting->seen[0], (LinearId{-1, LinearKind::token_embedding}));
  hm.set_mode(FheMode::simulate);
  EXPECT_EQ(hm.generate(prompt, 4, {{0.0f, 0, 1.0f, 0}, false}).ids, e.ids);
}

TEST(HybridModelApi, SeededSamplingIsReproducible) {
  HybridModel hm = tiny();
  const std::vector<TokenId> prompt = {1};
  GenerateOptions o{{0.9f, 40, 0.95f, 1234}, false};
  const auto a = hm.generate(prompt, 20, o), b = hm.generate(prompt, 20, o);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.ids.size(), 20u);
  o.sampling.seed = 99;
  EXPECT_NE(hm.generate(prompt, 20, o).ids, a.ids);
  EXPECT_THROW(hm.generate(prompt, 600, o), Error);  // past the 512 context
}

TEST(HybridModelApi, StopFlagEndsTheGenerationAfterItsToken) {
  HybridModel hm = tiny();
  const std::vector<TokenId> prompt = {1};
  GenerateOptions o{{0.9f, 40, 0.95f, 7}, false};
  const auto all = hm.generate(prompt, 12, o);
  std::atomic<bool> stop{false};
  o.stop = &stop;
  std::vector<TokenId> seen;
  const auto r = hm.generate(prompt, 12, o, [&](TokenId id) {
    seen.push_back(id);
    if (seen.size() == 5) stop = true;  // as Client::cancel from another thread
  });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.ids, std::vector<TokenId>(all.ids.begin(), all.ids.begin() + 5));
  EXPECT_EQ(seen, r.ids);
  EXPECT_FALSE(all.stopped);
}

TEST(HybridModelApi, RepeatPenaltyChangesGreedyTokens) {
  HybridModel hm = tiny();
  const std::vector<TokenId> prompt = {1};
  GenerateOptions o{{0.0f, 0, 1.0f, 0}, false};
  const auto plain = hm.generate(prompt, 30, o);
  o.sampling.repeat_penalty = 100.0f;  // no id may come twice within 64 positions
  const auto penalized = hm.generate(prompt, 30, o);
  EXPECT_NE(plain.ids, penalized.ids);
  std::vector<TokenId> sorted = penalized.ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a token repeated";
}

}  // namespace
}  // namespace fhellm::hybrid
