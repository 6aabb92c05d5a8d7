// simulate mode: the exact integer path, and its accuracy against disable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fhellm/error.h"
#include "he/linear_error_model.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/hybrid_model_io.h"
#include "hybrid/simulate_backend.h"
#include "model/loader.h"
#include "quant/int_matmul.h"
#include "test_data.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;
const fs::path kShared = FHELLM_SHARED_DIR;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// The backend's output is exactly: quantize rows, reference integer
// product, zero-point correction, rescale, bias. Checked on a random GPT-2
// shaped model (biases present) for 1 and 5 rows.
TEST(SimulateBackend, EqualsTheSpelledOutIntegerPath) {
  model::ModelConfig c = model::shape_preset("stories260k");
  c.arch = model::Architecture::gpt2;
  c.n_kv_heads = c.n_heads;
  c.context = 16;
  auto m = model::random_model(c, 9);
  const std::vector<LinearId> ids = m->linear_ids();
  auto q = std::make_shared<const QuantizedLinears>(*m, ids, quant::QuantOptions{});
  SimulateBackend backend(*m, q, he::LinearPrecision::exact);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  for (LinearId id : {LinearId{0, LinearKind::qkv}, LinearId{3, LinearKind::mlp_down}, LinearId{-1, LinearKind::lm_head}}) {
    const model::LinearView v = m->linear(id);
    for (std::size_t rows : {1u, 5u}) {
      std::vector<float> x(rows * v.n_in);
      for (auto& e : x) e = d(rng);
      std::vector<float> got(rows * v.n_out);
      backend.apply(id, x.data(), rows, got.data());

      const quant::QuantizedWeights& w = q->get(id);
      const auto qx = quant::quantize_rows(x.data(), rows, v.n_in, 8);
      std::vector<std::int64_t> acc(rows * v.n_out);
      quant::int_matmul_reference(qx.values.data(), rows, v.n_in, w.values.data(), v.n_out, acc.data());
      for (std::size_t t = 0; t < rows; ++t)
        for (std::size_t i = 0; i < v.n_out; ++i) {
          float want = qx.scales[t] * w.scales[i] *
                       static_cast<float>(acc[t * v.n_out + i] - std::int64_t{qx.zero_points[t]} * w.row_sums[i]);
          if (v.bias) want += v.bias[i];
          ASSERT_EQ(got[t * v.n_out + i], want) << model::linear_name(id) << " row " << t << " out " << i;
        }
    }
  }
  EXPECT_EQ(backend.stats().n_calls, 6u);
  EXPECT_EQ(backend.stats().n_rows, 18u);
  std::vector<float> y(8);
  EXPECT_THROW(SimulateBackend(*m, std::make_shared<const QuantizedLinears>(*m, std::vector<LinearId>{}, quant::QuantOptions{}))
                   .apply({0, LinearKind::qkv}, y.data(), 0, y.data()),
               Error);
}

// At the default precision simulate adds the encrypted product's rounding
// error: a pure function of the inputs (two backends, any call order, agree),
// zero-mean, with the spread of the error model (he::linear_error_std) around
// the exact integer path.
TEST(SimulateBackend, DefaultPrecisionDrawsTheModelledRoundingError) {
  model::ModelConfig c = model::shape_preset("stories260k");
  auto m = model::random_model(c, 11);
  const std::vector<LinearId> ids = m->linear_ids();
  auto q = std::make_shared<const QuantizedLinears>(*m, ids, quant::QuantOptions{});
  SimulateBackend exact(*m, q, he::LinearPrecision::exact), noisy(*m, q), again(*m, q);
  const LinearId id{1, LinearKind::mlp_up};
  const model::LinearView v = m->linear(id);
  const std::size_t rows = 64;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> x(rows * v.n_in), first(rows * v.n_out), second(first.size()), clean(first.size()), other(8 * v.n_out);
  for (auto& e : x) e = d(rng);
  noisy.apply(id, x.data(), rows, first.data());
  again.apply({0, LinearKind::qkv}, x.data(), 8, other.data());  // another call first: no effect
  again.apply(id, x.data(), rows, second.data());
  exact.apply(id, x.data(), rows, clean.data());
  EXPECT_EQ(first, second);
  const quant::QuantizedWeights& w = q->get(id);
  const auto qx = quant::quantize_rows(x.data(), rows, v.n_in, 8);
  const auto sigma = he::linear_error_std(
      he::plan_linear({1, static_cast<std::uint32_t>(v.n_in), static_cast<std::uint32_t>(v.n_out)},
                      he::kLinearDefaultPrecision, false),
      w.values);
  double sum = 0, square = 0, modelled = 0;
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t i = 0; i < v.n_out; ++i) {
      // Back to integer units of the product: (y - y_exact) / (scale_x scale_w).
      const double e = (static_cast<double>(first[t * v.n_out + i]) - clean[t * v.n_out + i]) /
                       (static_cast<double>(qx.scales[t]) * w.scales[i]);
      sum += e;
      square += e * e;
      modelled += sigma[i] * sigma[i] + 1.0 / 12.0;
    }
  const double count = static_cast<double>(rows * v.n_out);
  std::printf("simulate rounding error: mean %.3f, rms %.2f, modelled rms %.2f\n", sum / count,
              std::sqrt(square / count), std::sqrt(modelled / count));
  EXPECT_GT(square / modelled, 0.85);
  EXPECT_LT(square / modelled, 1.15);
  EXPECT_LT(std::abs(sum / count), 0.1 * std::sqrt(modelled / count));
}

// Draws (fhellm eval --draws): draw d is reproducible (two backends agree),
// draw 0 is the default, and another draw's errors have the same modelled
// spread but are independent of draw 0's (correlation near 0), as the
// errors of two execute runs are.
TEST(SimulateBackend, OtherDrawsAreReproducibleAndIndependent) {
  model::ModelConfig c = model::shape_preset("stories260k");
  auto m = model::random_model(c, 12);
  auto q = std::make_shared<const QuantizedLinears>(*m, m->linear_ids(), quant::QuantOptions{});
  SimulateBackend exact(*m, q, he::LinearPrecision::exact), first(*m, q), by_default(*m, q, he::kLinearDefaultPrecision, 0),
      third(*m, q, he::kLinearDefaultPrecision, 3), third_again(*m, q, he::kLinearDefaultPrecision, 3);
  const LinearId id{2, LinearKind::mlp_up};
  const model::LinearView v = m->linear(id);
  const std::size_t rows = 64;
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> x(rows * v.n_in);
  for (auto& e : x) e = d(rng);
  auto run = [&](SimulateBackend& b) {
    std::vector<float> y(rows * v.n_out);
    b.apply(id, x.data(), rows, y.data());
    return y;
  };
  const auto clean = run(exact), zero = run(first), three = run(third);
  EXPECT_EQ(run(by_default), zero);
  EXPECT_EQ(run(third_again), three);
  EXPECT_NE(three, zero);
  const quant::QuantizedWeights& w = q->get(id);
  const auto qx = quant::quantize_rows(x.data(), rows, v.n_in, 8);
  double zz = 0, tt = 0, zt = 0;
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t i = 0; i < v.n_out; ++i) {
      const double unit = static_cast<double>(qx.scales[t]) * w.scales[i];
      const double ez = (zero[t * v.n_out + i] - clean[t * v.n_out + i]) / unit;
      const double et = (three[t * v.n_out + i] - clean[t * v.n_out + i]) / unit;
      zz += ez * ez;
      tt += et * et;
      zt += ez * et;
    }
  const double correlation = zt / std::sqrt(zz * tt);
  std::printf("draws 0 and 3: mean square errors %.2f and %.2f, correlation %.6f\n", zz / (rows * v.n_out),
              tt / (rows * v.n_out), correlation);
  EXPECT_NEAR(tt / zz, 1.0, 0.1) << "both draws have the modelled spread";
  EXPECT_LT(std::abs(correlation), 0.05) << "the draws are independent";
}

// Perplexity on a story the model wrote itself (run.c's greedy ids, no
// tokenizer needed): simulate within 2% of disable.
TEST(ModelSimulateStories260K, PerplexityWithinTwoPercentOfDisable) {
  const auto ref = read_json(test_data::file("stories260K_runc_greedy.json"));
  std::vector<TokenId> ids = ref["cases"][1]["prompt_ids"].get<std::vector<TokenId>>();
  for (TokenId t : ref["cases"][1]["greedy_ids"]) ids.push_back(t);
  HybridModel hm = HybridModel::load(test_data::bundled_model());
  hm.set_mode(FheMode::disable);
  const EvalResult d = hm.perplexity(ids);
  hm.set_mode(FheMode::simulate);
  const EvalResult s = hm.perplexity(ids);
  std::size_t agree = 0;
  for (std::size_t i = 0; i < d.top1.size(); ++i) agree += d.top1[i] == s.top1[i];
  std::printf("stories260K self-text: perplexity disable %.4f simulate %.4f (%+.2f%%), top-1 agreement %zu/%zu\n",
              d.perplexity, s.perplexity, 100.0 * (s.perplexity / d.perplexity - 1.0), agree, d.top1.size());
  EXPECT_EQ(d.n_predicted, ids.size() - 1);
  EXPECT_NE(d.perplexity, s.perplexity);  // simulate really is quantized
  EXPECT_LT(std::abs(s.perplexity / d.perplexity - 1.0), 0.02);
}

// Reference texts (tests/data, ../shared/reference), tokenized by the model's own
// tokenizer: simulate perplexity within 2% of disable.
void check_text_perplexity(const fs::path& model_path, const fs::path& tokenizer_path, const fs::path& text_path) {
  HybridModel hm = HybridModel::load(model_path);
  const auto tok = load_tokenizer_for(tokenizer_path, model_path, hm.model());
  std::ifstream in(text_path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto ids = encode_document(*tok, hm.model(), text);
  ASSERT_GT(ids.size(), 100u);
  hm.set_mode(FheMode::disable);
  const EvalResult d = hm.perplexity(ids);
  hm.set_mode(FheMode::simulate);
  const EvalResult s = hm.perplexity(ids);
  std::size_t agree = 0;
  for (std::size_t i = 0; i < d.top1.size(); ++i) agree += d.top1[i] == s.top1[i];
  std::printf("%s on %s (%zu tokens): perplexity disable %.4f simulate %.4f (%+.3f%%), top-1 agreement %zu/%zu\n",
              model_path.filename().c_str(), text_path.filename().c_str(), ids.size(), d.perplexity, s.perplexity,
              100.0 * (s.perplexity / d.perplexity - 1.0), agree, d.top1.size());
  EXPECT_NE(d.perplexity, s.perplexity);
  EXPECT_LT(std::abs(s.perplexity / d.perplexity - 1.0), 0.02);
}

TEST(ModelSimulateStories260K, EvalStoryPerplexityWithinTwoPercent) {
  check_text_perplexity(test_data::bundled_model(), test_data::bundled_tokenizer(), test_data::file("eval_story.txt"));
}

TEST(ModelSimulateGpt2VimdocSmall, EvalVimdocPerplexityWithinTwoPercent) {
  if (!fs::exists(kShared / "models/gpt2-vimdoc-small")) {
    GTEST_SKIP() << "needs ../shared: no " << kShared << "/models/gpt2-vimdoc-small";
  }
  check_text_perplexity(kShared / "models/gpt2-vimdoc-small", "", kShared / "reference/eval_vimdoc.txt");
}

}  // namespace
}  // namespace fhellm::hybrid
