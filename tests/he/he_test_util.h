// Shared helpers for the he tests: the parameter sets to iterate over and
// exact integer oracles.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "he/context.h"
#include "he/params.h"

namespace fhellm::he::test_util {

inline std::string param_name(const ::testing::TestParamInfo<ParamId>& info) {
  return std::string(parameter_set(info.param).name);
}

// Negacyclic product over the integers (no reduction): the oracle for
// plaintext x ciphertext products.
inline std::vector<std::int64_t> negacyclic_product(const std::vector<std::int64_t>& a,
                                                    const std::vector<std::int64_t>& b) {
  const std::size_t n = a.size();
  std::vector<std::int64_t> out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] == 0) continue;
    for (std::size_t j = 0; j < n; ++j) {
      const std::int64_t p = a[i] * b[j];
      if (i + j < n) out[i + j] += p;
      else out[i + j - n] -= p;
    }
  }
  return out;
}

inline std::vector<std::int64_t> random_values(std::size_t n, std::int64_t bound, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::int64_t> dist(-bound, bound);
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// m(X^g) over the integers, in Z[X]/(X^n + 1) (n = m.size()).
inline std::vector<std::int64_t> galois_of(const std::vector<std::int64_t>& m, std::uint64_t g) {
  const std::size_t n = m.size();
  std::vector<std::int64_t> out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = (i * g) % (2 * n);
    if (e < n) out[e] = m[i];
    else out[e - n] = -m[i];
  }
  return out;
}

}  // namespace fhellm::he::test_util
