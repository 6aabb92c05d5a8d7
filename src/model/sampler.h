// Sampler: picks the next token from logits. Temperature 0 is greedy
// (argmax, lowest id on ties); otherwise softmax(logits / T), keep the top_k
// most likely (0 = all), then the smallest set whose mass reaches top_p
// (1 = all), renormalize and draw with a seeded std::mt19937_64, so a seed
// reproduces a generation exactly.
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
};

class Sampler {
 public:
  // @throws Error(invalid_argument) for temperature < 0 or top_p outside (0, 1]
  explicit Sampler(SamplerOptions options);
  std::int32_t sample(std::span<const float> logits);

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, std::int32_t>> candidates_;
};

std::int32_t argmax(std::span<const float> logits);

}  // namespace fhellm::model
