// The online mode's clear token-table lookup (math/masked_table_sum.h): table
// bytes streamed per second by each kernel, one thread, against a plain read
// of the same bytes (the memory bandwidth floor). Tables: GPT-2 (50257 x 768)
// and Llama-3.2-1B (128256 x 2048), random int8.
// Run: build/bench/fhellm_bench_math --benchmark_filter=MaskedTable
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "math/cpu_features.h"
#include "math/masked_table_sum.h"

using namespace fhellm::math;

namespace {

enum Kernel { kReference = 0, kAvx2 = 1, kAvx512 = 2 };

// One table per shape, shared by every benchmark of that shape.
const std::vector<std::int8_t>& table(std::size_t table_rows, std::size_t width) {
  static std::vector<std::int8_t> t;
  if (t.size() != table_rows * width) {
    t.assign(table_rows * width, 0);
    std::mt19937_64 rng(1);
    for (std::size_t i = 0; i + 8 <= t.size(); i += 8) {
      const std::uint64_t r = rng();
      std::memcpy(&t[i], &r, 8);
    }
  }
  return t;
}

// Args: table_rows, width, rows, kernel, columns per call (0: all; else the
// ranges a server thread pool would hand out, called one after the other).
void BM_MaskedTableSum(benchmark::State& state) {
  const auto table_rows = static_cast<std::size_t>(state.range(0));
  const auto width = static_cast<std::size_t>(state.range(1));
  const auto rows = static_cast<std::size_t>(state.range(2));
  const auto kernel = static_cast<Kernel>(state.range(3));
  const auto chunk = static_cast<std::size_t>(state.range(4));
  if ((kernel == kAvx2 && !cpu_has_avx2()) || (kernel == kAvx512 && !cpu_has_avx512vnni())) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  const std::vector<std::int8_t>& e = table(table_rows, width);
  std::vector<std::uint8_t> v(rows * table_rows), y(rows * width);
  std::mt19937_64 rng(2);
  for (auto& x : v) x = static_cast<std::uint8_t>(rng());
  set_simd_enabled(kernel != kReference);
  set_avx512_enabled(kernel == kAvx512);
  for (auto _ : state) {
    if (kernel == kReference) {
      masked_table_sum_reference(v.data(), rows, e.data(), table_rows, width, y.data());
    } else {
      const std::size_t step = chunk == 0 ? width : chunk;
      for (std::size_t d = 0; d < width; d += step)
        masked_table_sum_range(v.data(), rows, e.data(), table_rows, width, d, std::min(width, d + step), y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_simd_enabled(true);
  set_avx512_enabled(true);
  static const char* const names[] = {"reference", "avx2", "avx512"};
  state.SetLabel(std::string(names[kernel]) + (chunk ? " by " + std::to_string(chunk) + " columns" : ""));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * e.size()));
}

// XOR of the table's 32-byte words, four streams apart (for the floor).
__attribute__((target("avx2"))) std::uint64_t xor_words(const std::int8_t* p, std::size_t bytes) {
  __m256i acc[4] = {};
  for (std::size_t i = 0; i + 128 <= bytes; i += 128)
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_xor_si256(acc[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32 * k)));
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(acc[0], acc[1]), _mm256_xor_si256(acc[2], acc[3]));
  return static_cast<std::uint64_t>(_mm256_extract_epi64(x, 0) ^ _mm256_extract_epi64(x, 3));
}

// The floor: the same table bytes read once, in order, 32-byte loads.
void BM_MaskedTableRead(benchmark::State& state) {
  if (!cpu_has_avx2()) {
    state.SkipWithError("the read needs AVX2");
    return;
  }
  const std::vector<std::int8_t>& e = table(static_cast<std::size_t>(state.range(0)),
                                            static_cast<std::size_t>(state.range(1)));
  for (auto _ : state) {
    std::uint64_t x = xor_words(e.data(), e.size());
    benchmark::DoNotOptimize(x);
  }
  state.SetLabel("read");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * e.size()));
}

constexpr std::int64_t kGpt2Rows = 50257, kGpt2Width = 768;
constexpr std::int64_t kLlamaRows = 128256, kLlamaWidth = 2048;

void Gpt2Args(benchmark::internal::Benchmark* b) {
  for (std::int64_t rows : {1, 16})
    for (int kernel : {kAvx512, kAvx2, kReference}) b->Args({kGpt2Rows, kGpt2Width, rows, kernel, 0});
  for (std::int64_t rows : {4, 64, 512})
    for (int kernel : {kAvx512, kAvx2}) b->Args({kGpt2Rows, kGpt2Width, rows, kernel, 0});
  for (int kernel : {kAvx512, kAvx2}) b->Args({kGpt2Rows, kGpt2Width, 1, kernel, 256});
}

void LlamaArgs(benchmark::internal::Benchmark* b) {
  for (int kernel : {kAvx512, kAvx2, kReference}) b->Args({kLlamaRows, kLlamaWidth, 1, kernel, 0});
  for (int kernel : {kAvx512, kAvx2}) b->Args({kLlamaRows, kLlamaWidth, 1, kernel, 256});
}

}  // namespace

BENCHMARK(BM_MaskedTableRead)->Args({kGpt2Rows, kGpt2Width})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskedTableSum)->Apply(Gpt2Args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskedTableRead)->Args({kLlamaRows, kLlamaWidth})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskedTableSum)->Apply(LlamaArgs)->Unit(benchmark::kMillisecond);
