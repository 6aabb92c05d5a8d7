// The encrypted product's weight stream at T = 1 (he/linear_server.cpp's
// `products`): per (prime, slot block), unpack one slice of E x M packed
// 27-bit units and multiply it with the row's M input terms. Weights far
// larger than the caches (as a decoded token meets them: 1153 MB for GPT-2),
// one thread; beside it, the same steps alone and a plain read of the packed
// bytes (the memory floor). Shapes (E entries, M terms): GPT-2's 768 -> 2304
// (36, 32), Llama-3.2-1B's 2048 -> 16384 (256, 64) and 8192 -> 2048 (64, 128),
// and M = 512 terms (the Llama embedding lookup's chunks).
// Run: build/bench/fhellm_bench_math --benchmark_filter=BlockedProduct
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "math/blocked_product.h"
#include "math/cpu_features.h"

using namespace fhellm::math;

namespace {

std::size_t kEntries = 36, kTerms = 32;  // set from the benchmark's arguments
std::size_t kSliceUnits = kEntries * kTerms;
constexpr std::size_t kStreamBytes = std::size_t{512} << 20;  // past any cache
constexpr std::uint64_t kPrime = 134215681;                     // a 27-bit prime (the sets' are below 2^27)

void set_shape(const benchmark::State& state) {
  kEntries = static_cast<std::size_t>(state.range(0));
  kTerms = static_cast<std::size_t>(state.range(1));
  kSliceUnits = kEntries * kTerms;
}

const std::vector<std::uint8_t>& stream() {
  static std::vector<std::uint8_t> s = [] {
    std::vector<std::uint8_t> b(kStreamBytes + kPackedSlackBytes);
    std::mt19937_64 rng(3);
    constexpr std::size_t kChunkUnits = 1024;  // every word below the prime, whatever the shape
    std::vector<std::uint32_t> words(kChunkUnits * kSlotBlock);
    for (std::size_t at = 0; at + kChunkUnits * kPackedUnitBytes <= kStreamBytes; at += kChunkUnits * kPackedUnitBytes) {
      for (auto& w : words) w = static_cast<std::uint32_t>(rng() % kPrime);
      pack_words27(words.data(), kChunkUnits, b.data() + at);
    }
    return b;
  }();
  return s;
}

std::size_t slices() { return kStreamBytes / (kSliceUnits * kPackedUnitBytes); }

std::vector<std::uint32_t> input_row() {
  std::mt19937_64 rng(4);
  std::vector<std::uint32_t> x(kTerms * 2 * kSlotBlock);
  for (auto& v : x) v = static_cast<std::uint32_t>(rng() % kPrime);
  return x;
}

// One row's inputs and its E x 2 output runs.
struct Row {
  std::vector<std::uint32_t> x = input_row();
  const std::uint32_t* xs[1] = {x.data()};
  std::vector<std::uint64_t> y = std::vector<std::uint64_t>(kEntries * 2 * kSlotBlock);
  std::vector<std::uint64_t*> out = [this] {
    std::vector<std::uint64_t*> o(kEntries * 2);
    for (std::size_t i = 0; i < o.size(); ++i) o[i] = y.data() + i * kSlotBlock;
    return o;
  }();
};

void count_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * slices() * kSliceUnits * kPackedUnitBytes));
}

void BM_BlockedProductStream(benchmark::State& state) {
  set_shape(state);
  const auto& s = stream();
  Row row;
  std::vector<std::uint32_t> w(kSliceUnits * kSlotBlock);
  for (auto _ : state) {
    for (std::size_t i = 0; i < slices(); ++i) {
      unpack_words27(s.data() + i * kSliceUnits * kPackedUnitBytes, kSliceUnits, w.data());
      blocked_products(row.xs, 1, w.data(), kEntries, kTerms, kPrime, row.out.data());
    }
    benchmark::DoNotOptimize(row.y.data());
  }
  count_bytes(state);
}

// The same stream through blocked_products_packed (fused with the unpacking
// where only AVX2 is there: run with FHELLM_SIMD=avx2 to see it here).
void BM_BlockedProductStreamPacked(benchmark::State& state) {
  set_shape(state);
  const auto& s = stream();
  Row row;
  for (auto _ : state) {
    for (std::size_t i = 0; i < slices(); ++i)
      blocked_products_packed(row.xs, 1, s.data() + i * kSliceUnits * kPackedUnitBytes, kEntries, kTerms, kPrime,
                              row.out.data());
    benchmark::DoNotOptimize(row.y.data());
  }
  count_bytes(state);
}

// The same with the next slice prefetched while a slice's products run.
void BM_BlockedProductStreamAhead(benchmark::State& state) {
  set_shape(state);
  const auto& s = stream();
  Row row;
  const std::size_t bytes = kSliceUnits * kPackedUnitBytes, n = slices();
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i)
      blocked_products_packed(row.xs, 1, s.data() + i * bytes, kEntries, kTerms, kPrime, row.out.data(),
                              i + 1 < n ? s.data() + (i + 1) * bytes : nullptr);
    benchmark::DoNotOptimize(row.y.data());
  }
  count_bytes(state);
}

void BM_BlockedProductUnpackOnly(benchmark::State& state) {
  set_shape(state);
  const auto& s = stream();
  std::vector<std::uint32_t> w(kSliceUnits * kSlotBlock);
  for (auto _ : state) {
    for (std::size_t i = 0; i < slices(); ++i)
      unpack_words27(s.data() + i * kSliceUnits * kPackedUnitBytes, kSliceUnits, w.data());
    benchmark::DoNotOptimize(w.data());
  }
  count_bytes(state);
}

// The products alone, on one slice kept in cache, as many times as the stream has slices.
void BM_BlockedProductComputeOnly(benchmark::State& state) {
  set_shape(state);
  const auto& s = stream();
  Row row;
  std::vector<std::uint32_t> w(kSliceUnits * kSlotBlock);
  unpack_words27(s.data(), kSliceUnits, w.data());
  for (auto _ : state) {
    for (std::size_t i = 0; i < slices(); ++i)
      blocked_products(row.xs, 1, w.data(), kEntries, kTerms, kPrime, row.out.data());
    benchmark::DoNotOptimize(row.y.data());
  }
  count_bytes(state);
}

// A prompt's block of rows (he/linear_server.cpp: up to 16 rows share a
// slice): the products of `rows` rows on one unpacked slice kept in cache.
void BM_BlockedProductComputeRows(benchmark::State& state) {
  set_shape(state);
  const std::size_t rows = static_cast<std::size_t>(state.range(2));
  const auto& s = stream();
  std::vector<std::uint32_t> w(kSliceUnits * kSlotBlock);
  unpack_words27(s.data(), kSliceUnits, w.data());
  const std::vector<std::uint32_t> x = input_row();
  std::vector<const std::uint32_t*> xs(rows, x.data());
  std::vector<std::uint64_t> y(rows * kEntries * 2 * kSlotBlock);
  std::vector<std::uint64_t*> out(rows * kEntries * 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = y.data() + i * kSlotBlock;
  for (auto _ : state) {
    for (std::size_t i = 0; i < 64; ++i) blocked_products(xs.data(), rows, w.data(), kEntries, kTerms, kPrime, out.data());
    benchmark::DoNotOptimize(y.data());
  }
  // Products of 16 slots (one row, entry, term and part each).
  state.counters["products_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 64.0 * static_cast<double>(rows * kEntries * kTerms * 2), benchmark::Counter::kIsRate);
}

__attribute__((target("avx2"))) std::uint64_t sum_words(const std::uint8_t* p, std::size_t bytes) {
  __m256i acc = _mm256_setzero_si256();
  for (std::size_t i = 0; i + 32 <= bytes; i += 32)
    acc = _mm256_add_epi64(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
  return static_cast<std::uint64_t>(_mm256_extract_epi64(acc, 0) + _mm256_extract_epi64(acc, 3));
}

void BM_BlockedProductReadFloor(benchmark::State& state) {
  const auto& s = stream();
  for (auto _ : state) benchmark::DoNotOptimize(sum_words(s.data(), kStreamBytes));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kStreamBytes));
}

}  // namespace

BENCHMARK(BM_BlockedProductStream)->Args({36, 32})->Args({256, 64})->Args({64, 128})->Args({8, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BlockedProductStreamPacked)->Args({36, 32})->Args({256, 64})->Args({64, 128})->Args({8, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BlockedProductStreamAhead)->Args({36, 32})->Args({400, 64})->Args({256, 64})->Args({64, 128})->Args({8, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BlockedProductUnpackOnly)->Args({36, 32})->Args({256, 64})->Args({64, 128})->Args({8, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BlockedProductComputeOnly)->Args({36, 32})->Args({256, 64})->Args({64, 128})->Args({8, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BlockedProductComputeRows)->Args({36, 32, 16})->Args({24, 32, 16})->Args({8, 256, 7})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_BlockedProductReadFloor)->Unit(benchmark::kMillisecond)->UseRealTime();
