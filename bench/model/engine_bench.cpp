// Engine micro-benchmarks: the float matrix-vector kernel against OpenBLAS,
// and whole decode / prefill steps of a small Llama (stories260K shape).
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "model/linear.h"
#include "model/loader.h"
#include "model/session.h"
#include "model/gemv.h"

namespace {

using namespace fhellm::model;
using fhellm::TokenId;

struct Matrix {
  std::vector<float> w, x, y;
  Matrix(std::size_t n, std::size_t k, std::size_t rows = 1) : w(n * k), x(rows * k), y(rows * n) {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.01f * static_cast<float>(i));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.02f * static_cast<float>(i));
  }
};

// args: n, k (GPT-2 124M: 2304x768 qkv, 768x3072 mlp_down; stories260K 172x64)
void BM_MatvecFhellm(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  Matrix m(n, k);
  for (auto _ : state) {
    matmul_transposed(m.x.data(), 1, k, m.w.data(), n, nullptr, m.y.data());
    benchmark::DoNotOptimize(m.y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * k * sizeof(float)));
}
void BM_MatvecOpenBlas(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  Matrix m(n, k);
  for (auto _ : state) {
    matmul_transposed_openblas(m.x.data(), 1, k, m.w.data(), n, nullptr, m.y.data());
    benchmark::DoNotOptimize(m.y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * k * sizeof(float)));
}
void BM_MatvecReference(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  Matrix m(n, k);
  for (auto _ : state) {
    gemv_rows_reference(m.w.data(), k, m.x.data(), 0, n, m.y.data());
    benchmark::DoNotOptimize(m.y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * k * sizeof(float)));
}
#define MATVEC_SHAPES ->Args({172, 64})->Args({512, 64})->Args({2304, 768})->Args({768, 3072})
BENCHMARK(BM_MatvecFhellm) MATVEC_SHAPES;
BENCHMARK(BM_MatvecOpenBlas) MATVEC_SHAPES;
BENCHMARK(BM_MatvecReference) MATVEC_SHAPES;

// One decode step at position ~64 of a stories260K-shaped model (random weights).
void BM_DecodeStepStories260K(benchmark::State& state) {
  auto model = random_model(shape_preset("stories260k"), 1);
  FloatLinear linear(*model);
  Session s(model, linear);
  std::vector<TokenId> prompt(64, 5);
  s.forward(prompt);
  const TokenId t = 7;
  for (auto _ : state) {
    if (s.position() + 1 >= s.max_context()) {
      state.PauseTiming();
      s.reset();
      s.forward(prompt);
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(s.forward(std::span<const TokenId>(&t, 1)));
  }
}
BENCHMARK(BM_DecodeStepStories260K);

// Prefill of 64 prompt tokens at once.
void BM_PrefillStories260K(benchmark::State& state) {
  auto model = random_model(shape_preset("stories260k"), 1);
  FloatLinear linear(*model);
  Session s(model, linear);
  std::vector<TokenId> prompt(64, 5);
  for (auto _ : state) {
    s.reset();
    benchmark::DoNotOptimize(s.forward(prompt));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * prompt.size()));
}
BENCHMARK(BM_PrefillStories260K);

}  // namespace
