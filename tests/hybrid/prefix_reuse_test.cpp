// GenerateOptions::reuse_prefix: a generation keeps its KV cache and the next
// runs only what its prompt adds to the shared prefix. simulate's products
// are integers and its rounding draws a hash of each row, so a row's result
// does not depend on the rows computed with it: a run that reuses the cache
// gives exactly a fresh run's tokens, and the rows it skips are counted.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "he/linear.h"
#include "hybrid/execute_backend.h"
#include "hybrid/hybrid_model.h"

namespace fhellm::hybrid {
namespace {

const std::filesystem::path kStories = FHELLM_SOURCE_DIR "/models/stories260K.bin";
const std::vector<TokenId> kPrompt = {1, 403, 407, 261, 378};

GenerateOptions greedy(bool reuse) {
  GenerateOptions o{{0.0f, 0, 1.0f, 0}, false};
  o.reuse_prefix = reuse;
  return o;
}

// Rows of one forward pass over t prompt ids through stories260K's remote
// groups: the token lookup and 5 layers x 4 groups take every row, the LM
// head the last one only.
std::uint64_t prefill_rows(std::size_t t) { return t + 20 * t + 1; }

GenerationResult fresh(const std::vector<TokenId>& prompt, std::size_t n) {
  HybridModel hm = HybridModel::load(kStories);
  return hm.generate(prompt, n, greedy(false));
}

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(PrefixReuse, ANextTurnRunsOnlyWhatItAddsAndGivesTheFreshTokens) {
  HybridModel hm = HybridModel::load(kStories);
  const GenerationResult first = hm.generate(kPrompt, 6, greedy(true));
  EXPECT_EQ(first.n_cached, 0u);
  EXPECT_EQ(first.ids, fresh(kPrompt, 6).ids);

  // The next turn: the history (prompt and 5 of the answer's ids, the ones
  // the cache holds: the last sampled id was never fed) and a new message.
  std::vector<TokenId> turn = concat(kPrompt, std::vector<TokenId>(first.ids.begin(), first.ids.begin() + 5));
  turn = concat(turn, {300, 301, 302});
  const GenerationResult second = hm.generate(turn, 6, greedy(true));
  const GenerationResult reference = fresh(turn, 6);
  EXPECT_EQ(second.n_cached, kPrompt.size() + 5);
  EXPECT_EQ(second.ids, reference.ids);
  EXPECT_EQ(reference.remote.n_rows - second.remote.n_rows, prefill_rows(turn.size()) - prefill_rows(3));

  // The same prompt again: all of it but its last id comes from the cache.
  const GenerationResult again = hm.generate(turn, 6, greedy(true));
  EXPECT_EQ(again.n_cached, turn.size() - 1);
  EXPECT_EQ(again.ids, reference.ids);
}

TEST(PrefixReuse, ADivergingPromptKeepsOnlyTheSharedPrefix) {
  HybridModel hm = HybridModel::load(kStories);
  (void)hm.generate(kPrompt, 4, greedy(true));
  const std::vector<TokenId> other = {1, 403, 407, 500, 501, 502};
  const GenerationResult r = hm.generate(other, 5, greedy(true));
  EXPECT_EQ(r.n_cached, 3u);
  EXPECT_EQ(r.ids, fresh(other, 5).ids);
  // Nothing shared past BOS... but BOS itself.
  const std::vector<TokenId> unrelated = {1, 42, 43};
  const GenerationResult u = hm.generate(unrelated, 3, greedy(true));
  EXPECT_EQ(u.n_cached, 1u);
  EXPECT_EQ(u.ids, fresh(unrelated, 3).ids);
}

TEST(PrefixReuse, TheCacheGrowsPastTheFirstCallsPositions) {
  HybridModel hm = HybridModel::load(kStories);
  const GenerationResult first = hm.generate(kPrompt, 2, greedy(true));  // a cache of 7 positions
  std::vector<TokenId> longer = concat(kPrompt, {first.ids[0]});
  for (TokenId t = 200; t < 240; ++t) longer.push_back(t);
  const GenerationResult r = hm.generate(longer, 20, greedy(true));
  EXPECT_EQ(r.n_cached, kPrompt.size() + 1);
  EXPECT_EQ(r.ids, fresh(longer, 20).ids);
}

TEST(PrefixReuse, WithoutTheOptionOrAfterASettingChangesNothingIsReused) {
  HybridModel hm = HybridModel::load(kStories);
  (void)hm.generate(kPrompt, 4, greedy(true));
  EXPECT_EQ(hm.generate(kPrompt, 4, greedy(false)).n_cached, 0u);
  EXPECT_EQ(hm.generate(kPrompt, 4, greedy(true)).n_cached, 0u) << "a call without the option kept nothing";
  EXPECT_EQ(hm.generate(kPrompt, 4, greedy(true)).n_cached, kPrompt.size() - 1);
  hm.set_precision(he::LinearPrecision::exact);  // another rounding: the cache was computed with the other
  EXPECT_EQ(hm.generate(kPrompt, 4, greedy(true)).n_cached, 0u);
  hm.set_mode(FheMode::disable);
  EXPECT_EQ(hm.generate(kPrompt, 4, greedy(true)).n_cached, 0u);
}

TEST(PrefixReuse, AFailedGenerationDropsTheCache) {
  HybridModel hm = HybridModel::load(kStories);
  (void)hm.generate(kPrompt, 4, greedy(true));
  const std::vector<TokenId> bad = {1, 403, 407, 1 << 20};  // an id past the vocabulary, after the shared prefix
  EXPECT_THROW(hm.generate(bad, 4, greedy(true)), Error);
  EXPECT_EQ(hm.generate(kPrompt, 4, greedy(true)).n_cached, 0u);
}

// Execute, in process, exact: the encrypted calls of a next turn carry only
// its new rows, and its tokens are a fresh run's.
TEST(PrefixReuse, ExecuteSendsOnlyTheNewRows) {
  HybridModel hm = HybridModel::load(kStories);
  hm.set_precision(he::LinearPrecision::exact);
  auto stats = std::make_shared<ExecuteStats>();
  use_execute_in_process(hm, {}, stats);
  hm.set_mode(FheMode::execute);
  const GenerationResult first = hm.generate(kPrompt, 4, greedy(true));
  const std::uint64_t rows_before = stats->n_rows;
  const std::vector<TokenId> turn = concat(concat(kPrompt, {first.ids[0], first.ids[1], first.ids[2]}), {300, 301});
  const GenerationResult second = hm.generate(turn, 4, greedy(true));
  EXPECT_EQ(second.n_cached, kPrompt.size() + 3);
  EXPECT_EQ(stats->n_rows - rows_before, prefill_rows(2) + 22 * 3);  // 2 new prompt rows, then 3 decode steps of 22
  HybridModel simulated = HybridModel::load(kStories);
  simulated.set_precision(he::LinearPrecision::exact);
  EXPECT_EQ(second.ids, simulated.generate(turn, 4, greedy(false)).ids);
}

}  // namespace
}  // namespace fhellm::hybrid
