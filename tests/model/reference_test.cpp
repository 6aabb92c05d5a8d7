// disable-mode (float) forward passes against independent implementations:
// llama2.c run.c and PyTorch. The Llama references for the bundled model are
// in tests/data; the GPT-2 ones in ../shared/reference with their models.
// Prints the largest difference.
#include <cstdio>

#include "fhellm/error.h"
#include "model/loader.h"
#include "model/reference_util.h"

namespace fhellm::model {
namespace {

using testing::bundled_model;
using testing::greedy;
using testing::have_shared;
using testing::max_rel_diff;
using testing::read_json;
using testing::shared_dir;
using testing::test_data;

constexpr double kTolerance = 1e-4;

TEST(ModelStories260K, MatchesRunCGreedyAndLogits) {
  auto model = load_model(bundled_model());
  const auto ref = read_json(test_data("stories260K_runc_greedy.json"));
  FloatLinear linear(*model);
  double worst = 0.0;
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<TokenId>>();
    const auto expected = c["greedy_ids"].get<std::vector<TokenId>>();
    const auto head = c["logits_after_prompt_first8"].get<std::vector<double>>();
    Session s(model, linear);
    // run.c continues until BOS (1) or 256 positions; compare every id it produced.
    const auto got = greedy(s, prompt, expected.size(), [&](std::size_t step, const std::vector<float>& logits) {
      if (step == 0) worst = std::max(worst, max_rel_diff(logits.data(), head, head.size()));
    });
    EXPECT_EQ(got, expected) << "prompt '" << c["prompt"].get<std::string>() << "'";
  }
  std::printf("stories260K vs run.c: largest relative logit difference %.3g\n", worst);
  EXPECT_LT(worst, kTolerance);
}

TEST(ModelStories260K, MatchesTorchLogits) {
  auto model = load_model(bundled_model());
  const auto ref = read_json(test_data("stories260K_torch.json"));
  FloatLinear linear(*model);
  double worst = 0.0;
  std::size_t full_checked = 0;
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<TokenId>>();
    const auto expected = c["greedy_ids"].get<std::vector<TokenId>>();
    const auto& steps = c["steps"];
    Session s(model, linear);
    const auto got = greedy(s, prompt, expected.size(), [&](std::size_t step, const std::vector<float>& logits) {
      const auto& st = steps[step];
      const auto head = st["logits_head"].get<std::vector<double>>();
      worst = std::max(worst, max_rel_diff(logits.data(), head, head.size()));
      if (st.contains("logits")) {
        const auto full = st["logits"].get<std::vector<double>>();
        ASSERT_EQ(full.size(), logits.size());
        worst = std::max(worst, max_rel_diff(logits.data(), full, full.size()));
        ++full_checked;
      }
      EXPECT_EQ(argmax(logits), st["argmax"].get<TokenId>()) << "step " << step;
    });
    EXPECT_EQ(got, expected);
  }
  std::printf("stories260K vs PyTorch: largest relative logit difference %.3g (%zu full vectors)\n", worst,
              full_checked);
  EXPECT_EQ(full_checked, 24u);
  EXPECT_LT(worst, kTolerance);
}

// GPT-2 references carry the first 16 logits, the max and the L2 norm per step.
void check_gpt2_reference(const char* model_dir, const char* reference) {
  auto model = load_model(shared_dir() / model_dir);
  const auto ref = read_json(shared_dir() / reference);
  FloatLinear linear(*model);
  double worst = 0.0;
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<TokenId>>();
    const auto expected = c["greedy_ids"].get<std::vector<TokenId>>();
    const auto& steps = c["steps"];
    Session s(model, linear);
    const auto got = greedy(s, prompt, expected.size(), [&](std::size_t step, const std::vector<float>& logits) {
      const auto& st = steps[step];
      const auto head = st["logits_head"].get<std::vector<double>>();
      worst = std::max(worst, max_rel_diff(logits.data(), head, head.size()));
      const double max_ref = st["logit_max"].get<double>();
      const double max_got = *std::max_element(logits.begin(), logits.end());
      worst = std::max(worst, std::abs(max_got - max_ref) / std::max(1.0, std::abs(max_ref)));
      double l2 = 0.0;
      for (float v : logits) l2 += static_cast<double>(v) * v;
      const double l2_ref = st["logits_l2"].get<double>();
      worst = std::max(worst, std::abs(std::sqrt(l2) - l2_ref) / l2_ref);
      EXPECT_EQ(argmax(logits), st["argmax"].get<TokenId>()) << "step " << step;
    });
    EXPECT_EQ(got, expected);
  }
  std::printf("%s vs PyTorch: largest relative logit difference %.3g\n", model_dir, worst);
  EXPECT_LT(worst, kTolerance);
}

TEST(ModelGpt2TinyRandom, MatchesTorch) {
  if (!have_shared("models/gpt2-tiny-random")) {
    GTEST_SKIP() << "needs ../shared: no " << shared_dir() << "/models/gpt2-tiny-random";
  }
  check_gpt2_reference("models/gpt2-tiny-random", "reference/gpt2-tiny-random_torch.json");
}

TEST(ModelGpt2VimdocSmall, MatchesTorch) {
  if (!have_shared("models/gpt2-vimdoc-small")) {
    GTEST_SKIP() << "needs ../shared: no " << shared_dir() << "/models/gpt2-vimdoc-small";
  }
  check_gpt2_reference("models/gpt2-vimdoc-small", "reference/gpt2-vimdoc-small_torch.json");
}

// Prefill of T rows at once equals T single-row steps (same cache, same logits).
TEST(ModelStories260K, PrefillEqualsStepByStep) {
  auto model = load_model(bundled_model());
  FloatLinear linear(*model);
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378, 432, 383, 286};
  Session a(model, linear), b(model, linear);
  const auto all = a.forward(prompt, /*all_logits=*/true);
  ASSERT_EQ(all.size(), prompt.size() * 512);
  double worst = 0.0;
  for (std::size_t t = 0; t < prompt.size(); ++t) {
    const auto one = b.forward(std::span<const TokenId>(&prompt[t], 1));
    for (std::size_t i = 0; i < 512; ++i) worst = std::max(worst, static_cast<double>(std::abs(one[i] - all[t * 512 + i])));
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(a.position(), prompt.size());
}

TEST(ModelStories260K, RejectsOutOfRangeTokensAndContextOverflow) {
  auto model = load_model(bundled_model());
  FloatLinear linear(*model);
  Session s(model, linear, 4);
  const std::vector<TokenId> bad = {1, 512};
  try {
    s.forward(bad);
    FAIL() << "token 512 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unknown_token);
  }
  const std::vector<TokenId> five = {1, 2, 3, 4, 5};
  try {
    s.forward(five);
    FAIL() << "5 tokens accepted in a context of 4";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::context_overflow);
  }
  EXPECT_EQ(s.position(), 0u);
}

}  // namespace
}  // namespace fhellm::model
