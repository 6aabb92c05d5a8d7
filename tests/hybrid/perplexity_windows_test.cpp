// HybridModel::perplexity in overlapping windows with a stride (as
// llama-perplexity and transformers' strided evaluation): every id is scored
// once, in the first window that predicts it, from that window's context.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fhellm/error.h"
#include "hybrid/hybrid_model.h"
#include "model/linear.h"
#include "model/loader.h"
#include "model/session.h"

namespace fhellm::hybrid {
namespace {

// The sum of -log p(id) over the targets, each from the window the stride
// rule assigns it, with a fresh float session per target.
double expected_nll_sum(const std::shared_ptr<const model::Model>& m, const std::vector<TokenId>& ids,
                        std::size_t window, std::size_t stride) {
  model::FloatLinear linear(*m);
  double total = 0;
  for (std::size_t target = 1; target < ids.size(); ++target) {
    std::size_t begin = 0;
    while (std::min(begin + window, ids.size()) <= target) begin += stride;  // first window whose end passes target
    model::Session s(m, linear, window);
    const std::vector<float> logits = s.forward(std::span(ids.data() + begin, target - begin));
    double max_logit = -1e300, sum = 0;
    for (float v : logits) max_logit = std::max<double>(max_logit, v);
    for (float v : logits) sum += std::exp(v - max_logit);
    total += std::log(sum) - (logits[static_cast<std::size_t>(ids[target])] - max_logit);
  }
  return total;
}

TEST(PerplexityWindows, EachIdIsScoredOnceFromItsWindowsContext) {
  const auto m = model::random_model(model::shape_preset("stories260k"), 9);
  HybridModel hm(m);
  hm.set_mode(FheMode::disable);
  std::mt19937 rng(4);
  std::vector<TokenId> ids(41);
  for (auto& id : ids) id = static_cast<TokenId>(rng() % 512);
  for (const auto& [window, stride] : {std::pair<std::size_t, std::size_t>{16, 5}, {16, 15}, {16, 1}, {64, 8}, {12, 0}}) {
    const EvalResult r = hm.perplexity(ids, window, stride);
    const std::size_t used_stride = stride == 0 ? window / 2 : stride;
    EXPECT_EQ(r.stride, used_stride);
    EXPECT_EQ(r.n_predicted, ids.size() - 1) << window << "/" << stride;
    const double expected = expected_nll_sum(m, ids, window, used_stride);
    EXPECT_NEAR(r.mean_nll * static_cast<double>(r.n_predicted), expected, 1e-3 * std::abs(expected))
        << "window " << window << " stride " << stride;
  }
  EXPECT_THROW(hm.perplexity(ids, 16, 16), Error);  // a stride of a whole window leaves ids without context
}

}  // namespace
}  // namespace fhellm::hybrid
