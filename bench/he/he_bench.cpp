// RLWE core benchmarks: encryption, decryption, plaintext x ciphertext
// products, key switching, modulus switching, serialized sizes.
// Run: build/bench/fhellm_bench_he [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <algorithm>

#include <random>
#include <type_traits>

#include "he/accumulator.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/serialization.h"

using namespace fhellm::he;

namespace {

ParamId id_of(const benchmark::State& state) { return static_cast<ParamId>(state.range(0)); }

struct Fixture {
  explicit Fixture(ParamId id)
      : ctx(Context::get(id)),
        sk(SecretKey::generate(*ctx)),
        enc(ctx, sk),
        dec(ctx, sk),
        eval(ctx),
        scale(Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 30)) {
    std::mt19937_64 rng(1);
    message.resize(ctx->poly_degree());
    for (auto& v : message) v = static_cast<std::int64_t>(rng() % 255) - 127;
    weights.resize(ctx->poly_degree());
    for (auto& v : weights) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
  }
  ContextPtr ctx;
  SecretKey sk;
  Encryptor enc;
  Decryptor dec;
  Evaluator eval;
  Scale scale;
  std::vector<std::int64_t> message;
  std::vector<std::int8_t> weights;
};

void BM_EncryptSeeded(benchmark::State& state) {
  Fixture f(id_of(state));
  for (auto _ : state) benchmark::DoNotOptimize(f.enc.encrypt_seeded(f.message.data(), f.message.size(), f.scale));
  state.counters["bytes"] = static_cast<double>(seeded_ciphertext_bytes(*f.ctx));
}

void BM_Decrypt(benchmark::State& state) {
  Fixture f(id_of(state));
  const Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  for (auto _ : state) benchmark::DoNotOptimize(f.dec.decrypt(ct, f.scale));
}

void BM_DecryptSwitched(benchmark::State& state) {
  Fixture f(id_of(state));
  const Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  const SwitchedCiphertext sw = f.eval.switch_modulus(ct, std::uint64_t{1} << 40, std::uint64_t{1} << 45);
  for (auto _ : state) benchmark::DoNotOptimize(f.dec.decrypt(sw, f.scale));
}

void BM_MultiplyPlain(benchmark::State& state) {
  Fixture f(id_of(state));
  const Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  const PlaintextNtt pt = PlaintextNtt::encode(*f.ctx, f.weights.data(), f.weights.size());
  Ciphertext out = ct;
  for (auto _ : state) {
    f.eval.multiply_plain(ct, pt, out);
    benchmark::DoNotOptimize(out.c0.data());
  }
}

void BM_AccumulateProduct(benchmark::State& state) {
  Fixture f(id_of(state));
  const Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  const PlaintextNtt pt = PlaintextNtt::encode(*f.ctx, f.weights.data(), f.weights.size());
  CiphertextAccumulator acc(f.ctx);
  for (auto _ : state) acc.multiply_add_unchecked(ct, pt);
  benchmark::DoNotOptimize(acc.result());
}

// The LM-head pattern: one ciphertext against MANY distinct weight
// plaintexts (range(1) of them, cycled), so the plaintexts stream from memory
// (512 x 32 KB = 16 MB of 64-bit plaintexts at N = 2048) instead of sitting
// in L1/L2; 16384 is about GPT-2's LM head (~19K plaintexts). Plaintext is
// PlaintextNtt (64-bit words) or PlaintextNtt32 (half the bytes).
template <typename Plaintext>
void BM_AccumulateManyPlaintexts(benchmark::State& state) {
  Fixture f(id_of(state));
  const Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  const std::size_t count = static_cast<std::size_t>(state.range(1));
  std::mt19937_64 rng(2);
  std::vector<Plaintext> pts;
  pts.reserve(count);
  std::vector<std::int8_t> w(f.ctx->poly_degree());
  for (std::size_t p = 0; p < count; ++p) {
    for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
    pts.push_back(Plaintext::encode(*f.ctx, w.data(), w.size()));
  }
  CiphertextAccumulator acc(f.ctx);
  std::size_t next = 0;
  for (auto _ : state) {
    acc.multiply_add_unchecked(ct, pts[next]);
    if (++next == count) next = 0;
  }
  benchmark::DoNotOptimize(acc.result());
  const std::size_t pt_bytes = f.ctx->poly_degree() * f.ctx->moduli_count() *
                               (std::is_same_v<Plaintext, PlaintextNtt32> ? 4 : 8);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * pt_bytes));  // plaintext bytes read
  state.counters["pt_bytes"] = static_cast<double>(pt_bytes);
}

void BM_EncodeWeights(benchmark::State& state) {
  Fixture f(id_of(state));
  for (auto _ : state) benchmark::DoNotOptimize(PlaintextNtt::encode(*f.ctx, f.weights.data(), f.weights.size()));
}

void BM_KeySwitch(benchmark::State& state) {
  Fixture f(id_of(state));
  const int w = static_cast<int>(state.range(1));
  const GaloisKeys keys = make_galois_keys(*f.ctx, f.sk, std::vector<std::uint64_t>{3}, w);
  Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  f.eval.transform_from_ntt_inplace(ct);
  RnsPoly out0, out1;
  for (auto _ : state) f.eval.key_switch(ct.c1, keys.get(3), out0, out1);
  std::size_t digits = 0;
  for (auto l : keys.get(3).digits_per_prime) digits += l;
  state.counters["digits"] = static_cast<double>(digits);
  state.counters["key_bytes"] = static_cast<double>(save(keys, *f.ctx).size());
}

void BM_ApplyGalois(benchmark::State& state) {
  Fixture f(id_of(state));
  const GaloisKeys keys = make_galois_keys(*f.ctx, f.sk, std::vector<std::uint64_t>{3});
  Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  for (auto _ : state) f.eval.apply_galois_inplace(ct, 3, keys);
}

void BM_SwitchModulus(benchmark::State& state) {
  Fixture f(id_of(state));
  const Ciphertext ct = f.enc.encrypt(f.message.data(), f.message.size(), f.scale);
  for (auto _ : state) benchmark::DoNotOptimize(f.eval.switch_modulus(ct, std::uint64_t{1} << 36, std::uint64_t{1} << 42));
  state.counters["bytes"] = static_cast<double>(switched_ciphertext_bytes(f.ctx->poly_degree(), 1ull << 36, 1ull << 42));
}

void AllSets(benchmark::internal::Benchmark* b) {
  for (int id : {1, 2, 3}) b->Arg(id);
}

// Minimum over repetitions: the least disturbed run on a shared machine
// (use --benchmark_repetitions=N --benchmark_report_aggregates_only=true).
double MinOf(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

BENCHMARK(BM_EncryptSeeded)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_Decrypt)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_DecryptSwitched)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_MultiplyPlain)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_AccumulateProduct)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK_TEMPLATE(BM_AccumulateManyPlaintexts, PlaintextNtt)->Args({1, 1})->Args({1, 512})->Args({1, 4096})->Args({1, 16384})->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK_TEMPLATE(BM_AccumulateManyPlaintexts, PlaintextNtt32)->Args({1, 1})->Args({1, 512})->Args({1, 4096})->Args({1, 16384})->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_EncodeWeights)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_KeySwitch)->Args({1, 9})->Args({1, 14})->Args({2, 27})->Args({2, 54})->Args({2, 18})->Args({3, 27})->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_ApplyGalois)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_SwitchModulus)->Apply(AllSets)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
