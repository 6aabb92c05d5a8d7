// Sampler: picks the next token from logits. First the repeat penalty (as
// llama.cpp's --repeat-penalty: the logit of each id among the last
// repeat_last_n accepted ids is divided by the penalty when positive,
// multiplied when negative; 1 = off). Temperature 0 is then greedy (argmax,
// lowest id on ties); otherwise softmax(logits / T), keep the top_k most
// likely (0 = all), then the smallest set whose mass reaches top_p (1 = all),
// then drop those below min_p times the most likely's probability (0 = off,
// as transformers' MinPLogitsWarper), renormalize and draw with a seeded
// std::mt19937_64, so a seed reproduces a generation exactly.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace fhellm::model {

struct SamplerOptions {
  float temperature = 0.0f;
  std::size_t top_k = 0;
  float top_p = 1.0f;
  std::uint64_t seed = 0;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  std::size_t repeat_last_n = 64;
};

class Sampler {
 public:
  // @throws Error(invalid_argument) for temperature < 0, top_p outside
  // (0, 1], min_p outside [0, 1] or repeat_penalty <= 0
  explicit Sampler(SamplerOptions options);
  std::int32_t sample(std::span<const float> logits);
  // Records an id of the context (prompt ids, then each generated id) for the repeat penalty.
  void accept(std::int32_t id);

 private:
  std::span<const float> penalized(std::span<const float> logits);

  SamplerOptions options_;
  std::vector<std::int32_t> recent_;  // the last repeat_last_n accepted ids
  std::vector<float> penalized_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, std::int32_t>> candidates_;
};

std::int32_t argmax(std::span<const float> logits);

}  // namespace fhellm::model
