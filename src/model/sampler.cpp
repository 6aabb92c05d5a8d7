#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "fhellm/error.h"

namespace fhellm::model {

std::int32_t argmax(std::span<const float> logits) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<std::int32_t>(best);
}

Sampler::Sampler(SamplerOptions options) : options_(options), rng_(options.seed) {
  require(options_.temperature >= 0.0f && std::isfinite(options_.temperature), ErrorCode::invalid_argument,
          "temperature " + std::to_string(options_.temperature) + " must be >= 0");
  require(options_.top_p > 0.0f && options_.top_p <= 1.0f, ErrorCode::invalid_argument,
          "top_p " + std::to_string(options_.top_p) + " must be in (0, 1]");
  require(options_.min_p >= 0.0f && options_.min_p <= 1.0f, ErrorCode::invalid_argument,
          "min_p " + std::to_string(options_.min_p) + " must be in [0, 1]");
  require(options_.repeat_penalty > 0.0f && std::isfinite(options_.repeat_penalty), ErrorCode::invalid_argument,
          "repeat_penalty " + std::to_string(options_.repeat_penalty) + " must be > 0");
}

void Sampler::accept(std::int32_t id) {
  if (options_.repeat_penalty == 1.0f || options_.repeat_last_n == 0) return;
  recent_.push_back(id);
  if (recent_.size() > options_.repeat_last_n) recent_.erase(recent_.begin());
}

std::span<const float> Sampler::penalized(std::span<const float> logits) {
  if (options_.repeat_penalty == 1.0f || recent_.empty()) return logits;
  penalized_.assign(logits.begin(), logits.end());
  std::vector<std::int32_t> ids = recent_;  // each id once, however often it repeats
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (const std::int32_t id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= penalized_.size()) continue;
    float& v = penalized_[static_cast<std::size_t>(id)];
    v = v > 0 ? v / options_.repeat_penalty : v * options_.repeat_penalty;
  }
  return penalized_;
}

std::int32_t Sampler::sample(std::span<const float> raw_logits) {
  require(!raw_logits.empty(), ErrorCode::invalid_argument, "sample: no logits");
  const std::span<const float> logits = penalized(raw_logits);
  if (options_.temperature == 0.0f) return argmax(logits);

  // Candidates sorted by logit, cut to top_k.
  candidates_.resize(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) candidates_[i] = {logits[i], static_cast<std::int32_t>(i)};
  std::size_t k = options_.top_k == 0 ? logits.size() : std::min(options_.top_k, logits.size());
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(k), candidates_.end(), by_logit);
  candidates_.resize(k);

  // Softmax at temperature T over the kept candidates (max first: stable).
  const float max_logit = candidates_[0].first;
  double total = 0.0;
  for (auto& [v, id] : candidates_) {
    v = static_cast<float>(std::exp((v - max_logit) / options_.temperature));
    total += v;
  }
  // Nucleus: the smallest prefix whose probability reaches top_p.
  double kept = 0.0;
  std::size_t n = 0;
  while (n < candidates_.size()) {
    kept += candidates_[n].first;
    ++n;
    if (kept >= options_.top_p * total) break;
  }
  // min_p: candidates are sorted, so the kept ones are a prefix; the first is the most likely.
  const double floor = static_cast<double>(options_.min_p) * candidates_[0].first;
  while (n > 1 && candidates_[n - 1].first < floor) kept -= candidates_[--n].first;
  std::uniform_real_distribution<double> uniform(0.0, kept);
  const double r = uniform(rng_);
  double acc = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    acc += candidates_[i].first;
    if (r < acc) return candidates_[i].second;
  }
  return candidates_[n - 1].second;
}

}  // namespace fhellm::model
