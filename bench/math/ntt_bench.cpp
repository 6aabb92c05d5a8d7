// NTT throughput: forward and inverse, reference and AVX2 kernels, one prime.
// Run: build/bench/fhellm_bench_math --benchmark_filter=Ntt
#include <benchmark/benchmark.h>

#include <algorithm>

#include <random>

#include "math/cpu_features.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"
#include "math/poly_arith.h"
#include "math/primes.h"

using namespace fhellm::math;

namespace {

// kAvx2U32: the 32-bit kernels on uint32 words (q < 2^30); kDispatch: ntt_forward / ntt_inverse.
// kU32: the 32-bit forward NTT the key switches use (AVX-512 where present).
enum Kernel { kReference = 0, kAvx2 = 1, kIfma = 2, kAvx2U32 = 3, kDispatch = 4, kU32 = 5 };

template <bool Forward>
void BM_Ntt(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const int bits = static_cast<int>(state.range(1));
  const auto kernel = static_cast<Kernel>(state.range(2));
  if (((kernel == kAvx2 || kernel == kAvx2U32) && !cpu_has_avx2()) || (kernel == kIfma && !cpu_has_avx512ifma())) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  const Modulus q(generate_ntt_primes(bits, 1, n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> a(n);
  for (auto& v : a) v = rng() % q.value();
  std::vector<std::uint32_t> a32(a.begin(), a.end());
  for (auto _ : state) {
    if (kernel == kAvx2U32) {
      if (Forward) ntt_forward_u32_avx2(a32.data(), *tables.tables32());
      else ntt_inverse_u32_avx2(a32.data(), *tables.tables32());
      benchmark::DoNotOptimize(a32.data());
      continue;
    }
    if (kernel == kU32) {
      if (Forward) ntt_forward_u32(a32.data(), *tables.tables32());
      else ntt_inverse_u32_avx2(a32.data(), *tables.tables32());
      benchmark::DoNotOptimize(a32.data());
      continue;
    }
    if (kernel == kDispatch) {
      if (Forward) ntt_forward(a.data(), tables);
      else ntt_inverse(a.data(), tables);
      benchmark::DoNotOptimize(a.data());
      continue;
    }
    if (Forward) {
      if (kernel == kIfma) ntt_forward_ifma(a.data(), tables);
      else if (kernel == kAvx2) ntt_forward_avx2(a.data(), tables);
      else ntt_forward_reference(a.data(), tables);
    } else {
      if (kernel == kIfma) ntt_inverse_ifma(a.data(), tables);
      else if (kernel == kAvx2) ntt_inverse_avx2(a.data(), tables);
      else ntt_inverse_reference(a.data(), tables);
    }
    benchmark::DoNotOptimize(a.data());
  }
  static const char* const names[] = {"reference", "avx2", "ifma", "avx2-u32", "dispatch", "u32"};
  state.SetLabel(std::string(names[kernel]) + " q=" +
                 std::to_string(bits) + "b");
}

void NttArgs(benchmark::internal::Benchmark* b) {
  for (int kernel : {kReference, kAvx2}) {
    b->Args({4096, 55, kernel});
  }
  for (std::int64_t n : {2048, 8192, 16384}) b->Args({n, 55, kAvx2});
  for (int kernel : {kReference, kAvx2, kAvx2U32, kDispatch}) b->Args({2048, 27, kernel});
  // IFMA needs q < 2^50.
  for (int kernel : {kReference, kAvx2, kIfma}) b->Args({4096, 50, kernel});
  b->Args({2048, 27, kIfma});
  b->Args({2048, 27, kU32});
}

void BM_PointwiseMultiply(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const Modulus q(generate_ntt_primes(static_cast<int>(state.range(1)), 1, n)[0]);
  std::mt19937_64 rng(2);
  std::vector<std::uint64_t> a(n), b(n), c(n);
  for (auto& v : a) v = rng() % q.value();
  for (auto& v : b) v = rng() % q.value();
  for (auto _ : state) {
    multiply_mod(a.data(), b.data(), c.data(), n, q);
    benchmark::DoNotOptimize(c.data());
  }
}

// Minimum over repetitions: the least disturbed run on a shared machine
// (use --benchmark_repetitions=N --benchmark_report_aggregates_only=true).
double MinOf(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// The packing tree's butterfly in NTT form (monomial_butterfly_ntt), one
// prime of n2048_q54: arg 0 the AVX-512 kernel, 1 the AVX2 one.
void BM_MonomialButterfly(benchmark::State& state) {
  const bool avx512 = state.range(0) == 0;
  if ((avx512 && !cpu_has_avx512ifma()) || !cpu_has_avx2()) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  constexpr std::size_t n = 2048;
  const Modulus q(generate_ntt_primes(27, 1, n)[0]);
  std::mt19937_64 rng(3);
  std::vector<std::uint64_t> e(n), o(n), m(n), ms(n), d(n);
  for (std::size_t i = 0; i < n; ++i) {
    e[i] = rng() % q.value();
    o[i] = rng() % q.value();
    m[i] = rng() % q.value();
    ms[i] = (m[i] << 32) / q.value();
  }
  set_avx512_enabled(avx512);
  for (auto _ : state) {
    monomial_butterfly_ntt(e.data(), o.data(), m.data(), ms.data(), d.data(), n, q);
    benchmark::DoNotOptimize(d.data());
  }
  set_avx512_enabled(true);
}

}  // namespace

BENCHMARK(BM_Ntt<true>)->Name("NttForward")->Apply(NttArgs)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_Ntt<false>)->Name("NttInverse")->Apply(NttArgs)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_PointwiseMultiply)->Args({4096, 55})->Args({2048, 27})->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_MonomialButterfly)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
