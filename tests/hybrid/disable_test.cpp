// disable mode through the HybridModel API reproduces llama2.c run.c.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hybrid/disable_backend.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"
#include "test_data.h"

namespace fhellm::hybrid {
namespace {


TEST(DisableBackend, IsTheFloatProduct) {
  auto m = model::random_model(model::shape_preset("stories260k"), 3);
  DisableBackend backend(*m);
  model::FloatLinear ref(*m);
  std::vector<float> x(2 * 64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  std::vector<float> a(2 * 512), b(2 * 512);
  backend.apply({-1, LinearKind::lm_head}, x.data(), 2, a.data());
  ref.apply({-1, LinearKind::lm_head}, x.data(), 2, b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(backend.mode(), FheMode::disable);
  EXPECT_EQ(backend.stats().n_calls, 1u);
}

TEST(ModelDisableStories260K, GenerateReproducesRunCGreedy) {
  std::ifstream in(test_data::file("stories260K_runc_greedy.json"));
  const auto ref = nlohmann::json::parse(in);
  HybridModel hm = HybridModel::load(test_data::bundled_model());
  hm.set_mode(FheMode::disable);
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<TokenId>>();
    const auto expected = c["greedy_ids"].get<std::vector<TokenId>>();
    std::vector<TokenId> streamed;
    const auto r = hm.generate(prompt, expected.size(), {}, [&](TokenId t) { streamed.push_back(t); });
    EXPECT_EQ(r.ids, expected);
    EXPECT_EQ(streamed, expected);
    EXPECT_EQ(r.n_prompt, prompt.size());
    EXPECT_GT(r.tokens_per_second(), 0.0);
    // Every linear call went to the backend: 4 groups x 5 layers + head, per forward.
    EXPECT_EQ(r.remote.n_calls, 21u * expected.size());
  }
}

}  // namespace
}  // namespace fhellm::hybrid
