// The online mode's clear product on the server (math::modular_matmul,
// residues mod p times int8 weights) against the clear int8 floor
// (quant::int_matmul, uint8 x int8: the product of simulate), on the GPT-2
// 124M shapes, one thread. Run:
//   build/bench/fhellm_bench_hybrid --benchmark_filter=Online
// Kernels: 0 dispatch (AVX-512 VNNI where present), 1 AVX2 (AVX-512 off), 2 the int8 floor.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "he/linear_layout.h"
#include "math/cpu_features.h"
#include "math/modular_matmul.h"
#include "quant/int_matmul.h"

namespace {

void BM_OnlineProduct(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0)), n = static_cast<std::size_t>(state.range(1)),
             rows = static_cast<std::size_t>(state.range(2));
  const int kernel = static_cast<int>(state.range(3));
  const std::uint64_t p = fhellm::he::linear_online_modulus(static_cast<std::uint32_t>(k)).p;
  std::mt19937_64 rng(1);
  std::vector<std::int8_t> w(n * k);
  for (auto& v : w) v = static_cast<std::int8_t>(rng());
  std::vector<std::uint32_t> v(rows * k), y(rows * n);
  for (auto& x : v) x = static_cast<std::uint32_t>(rng() % p);
  std::vector<std::uint8_t> x8(rows * k);
  for (auto& x : x8) x = static_cast<std::uint8_t>(rng());
  std::vector<std::int64_t> acc(rows * n);
  fhellm::math::set_avx512_enabled(kernel != 1);
  for (auto _ : state) {
    if (kernel == 2) {
      fhellm::quant::int_matmul(x8.data(), rows, k, w.data(), n, acc.data());
      benchmark::DoNotOptimize(acc.data());
    } else {
      fhellm::math::modular_matmul(v.data(), rows, k, w.data(), n, p, y.data());
      benchmark::DoNotOptimize(y.data());
    }
  }
  state.SetLabel(kernel == 2 ? "int8 floor" : fhellm::math::modular_matmul_kernel_name());
  fhellm::math::set_avx512_enabled(true);
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(n * k * rows), benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int kernel : {0, 1, 2})
    for (auto [k, n] : {std::pair{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}})
      for (int rows : {1, 32}) b->Args({k, n, rows, kernel});
}

BENCHMARK(BM_OnlineProduct)->Apply(shapes)->Unit(benchmark::kMillisecond);

}  // namespace
