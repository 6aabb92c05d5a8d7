// Helpers shared by the model tests: where the data lives (the bundled model
// and tests/data in the repository; ../shared beside it), reading reference
// files and running greedy generations through a Session.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/session.h"
#include "model/sampler.h"
#include "test_data.h"

namespace fhellm::model::testing {

using test_data::bundled_model;
using test_data::bundled_tokenizer;
using test_data::shared_dir;
using test_data::source_dir;
inline std::filesystem::path test_data(const char* name) { return test_data::file(name); }

inline bool have_shared(const char* rel) { return std::filesystem::exists(shared_dir() / rel); }

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Largest |a - b| / max(1, |b|) over the first n entries (the relative error
// of logits, with an absolute floor of 1 for logits near zero).
inline double max_rel_diff(const float* a, const std::vector<double>& b, std::size_t n) {
  double worst = 0.0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  return worst;
}

// Prefill `prompt`, then `steps` greedy tokens; calls on_step(step, logits) before each choice.
template <typename F>
std::vector<TokenId> greedy(Session& s, const std::vector<TokenId>& prompt, std::size_t steps, F on_step) {
  std::vector<TokenId> out;
  std::vector<float> logits = s.forward(prompt);
  for (std::size_t i = 0; i < steps; ++i) {
    on_step(i, logits);
    const TokenId next = argmax(logits);
    out.push_back(next);
    if (i + 1 < steps) logits = s.forward(std::span<const TokenId>(&next, 1));
  }
  return out;
}

}  // namespace fhellm::model::testing
