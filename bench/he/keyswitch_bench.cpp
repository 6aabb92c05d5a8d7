// Key-switch kernels (math/keyswitch_kernels.h) at N = 2048 on a 27-bit
// prime (n2048_q54's kind): each AVX-512 kernel against its scalar reference;
// and apply_galois_inplace on a coefficient-form ciphertext (the packing
// tree's case; BM_ApplyGalois in he_bench.cpp takes NTT form).
// Run: build/bench/fhellm_bench_he --benchmark_filter='KsKernel|ApplyGaloisCoeff' 
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "he/encryptor.h"
#include "he/evaluator.h"
#include "he/hoisted_galois.h"
#include "math/cpu_features.h"
#include "math/keyswitch_kernels.h"
#include "math/ntt.h"
#include "math/primes.h"

using namespace fhellm::math;

namespace {

constexpr std::size_t kN = 2048;

struct KernelData {
  KernelData() : q(generate_ntt_primes(27, 1, kN)[0]), tables(kN, q) {
    std::mt19937_64 rng(5);
    for (auto* v : {&a, &b, &c, &acc0, &acc1, &out}) {
      v->resize(kN);
      for (auto& x : *v) x = rng() % q.value();
    }
    perm = ntt_automorphism_permutation(kN, 5);
  }
  Modulus q;
  NttTables tables;
  std::vector<std::uint64_t> a, b, c, acc0, acc1, out;
  std::vector<std::uint32_t> perm;
};

// range(0): 1 = dispatched (SIMD where present), 0 = scalar reference.
void BM_KsKernelDigitLift(benchmark::State& state) {
  KernelData d;
  const GadgetDigit g{d.q.value(), 9, 3, 1};
  for (auto _ : state) {
    if (state.range(0)) gadget_digit_lift(d.c.data(), g, d.q.value(), d.out.data(), kN);
    else gadget_digit_lift_reference(d.c.data(), g, d.q.value(), d.out.data(), kN);
    benchmark::DoNotOptimize(d.out.data());
  }
}

void BM_KsKernelPairMac(benchmark::State& state) {
  KernelData d;
  for (auto _ : state) {
    if (state.range(0)) multiply_accumulate_pair_u64(d.c.data(), d.a.data(), d.b.data(), d.acc0.data(), d.acc1.data(), kN, false);
    else multiply_accumulate_pair_u64_reference(d.c.data(), d.a.data(), d.b.data(), d.acc0.data(), d.acc1.data(), kN, false);
    benchmark::DoNotOptimize(d.acc0.data());
  }
}

void BM_KsKernelReduce(benchmark::State& state) {
  KernelData d;
  for (auto _ : state) {
    if (state.range(0)) reduce_u64_fast(d.acc0.data(), d.out.data(), kN, d.q);
    else reduce_u64_fast_reference(d.acc0.data(), d.out.data(), kN, d.q);
    benchmark::DoNotOptimize(d.out.data());
  }
}

void BM_KsKernelPermuteSlots(benchmark::State& state) {
  KernelData d;
  for (auto _ : state) {
    if (state.range(0)) permute_slots(d.c.data(), d.perm.data(), d.out.data(), kN);
    else permute_slots_reference(d.c.data(), d.perm.data(), d.out.data(), kN);
    benchmark::DoNotOptimize(d.out.data());
  }
}

void BM_KsKernelAutomorphismCoeff(benchmark::State& state) {
  KernelData d;
  for (auto _ : state) {
    if (state.range(0)) automorphism_coeff(d.c.data(), 5, d.q.value(), d.out.data(), kN);
    else automorphism_coeff_reference(d.c.data(), 5, d.q.value(), d.out.data(), kN);
    benchmark::DoNotOptimize(d.out.data());
  }
}

void BM_ApplyGaloisCoeff(benchmark::State& state) {
  using namespace fhellm::he;
  const ContextPtr ctx = Context::get(static_cast<ParamId>(state.range(0)));
  const SecretKey sk = SecretKey::generate(*ctx);
  const Encryptor enc(ctx, sk);
  const Evaluator eval(ctx);
  const GaloisKeys keys = make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{3});
  std::vector<std::int64_t> m(ctx->poly_degree(), 5);
  Ciphertext ct = enc.encrypt(m.data(), m.size(), Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 30));
  eval.transform_from_ntt_inplace(ct);
  for (auto _ : state) eval.apply_galois_inplace(ct, 3, keys);
}

// The packing tree's step: automorphism of an NTT-form ciphertext, key
// switch with per-prime keys of width arg 0 (14: linear_decomposition_bits),
// or composed keys when arg 1 is 1 (18: linear_packing_gadget, S = 0 plans).
void BM_ApplyGaloisNtt(benchmark::State& state) {
  using namespace fhellm::he;
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const SecretKey sk = SecretKey::generate(*ctx);
  const Encryptor enc(ctx, sk);
  const Evaluator eval(ctx);
  const int w = static_cast<int>(state.range(0));
  const GadgetBase base = state.range(1) == 1 ? GadgetBase::composed : GadgetBase::per_prime;
  GaloisKeys keys = make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{3}, w, base);
  GaloisKeys compact;  // with the 32-bit copy the session's packing keys carry
  KeySwitchKey key = keys.get(3);
  compact_key_words32(*ctx, key);
  compact.insert(ctx->param_id(), 3, std::move(key));
  std::vector<std::int64_t> m(ctx->poly_degree(), 5);
  Ciphertext ct = enc.encrypt(m.data(), m.size(), Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 30));
  for (auto _ : state) eval.apply_galois_inplace(ct, 3, compact);
  state.SetLabel("w=" + std::to_string(w) + (base == GadgetBase::composed ? " composed" : " per prime"));
}

// Hoisted input-side automorphisms (hoisted_galois.h): the decomposition of
// one ciphertext (arg 0) and one element applied from it with GaloisKeys (arg 1) or
// HoistedGaloisKeys (arg 2), the session's 6-bit gadget per prime (arg 1 = 0:
// 10 digits) or composed (arg 1 = 1: 9 digits, linear_input_gadget).
void BM_Hoisted(benchmark::State& state) {
  using namespace fhellm::he;
  const ContextPtr ctx = Context::get(ParamId::n2048_q54);
  const SecretKey sk = SecretKey::generate(*ctx);
  const Encryptor enc(ctx, sk);
  const Gadget gadget{6, state.range(1) == 1 ? GadgetBase::composed : GadgetBase::per_prime};
  const GaloisKeys keys = make_galois_keys(*ctx, sk, std::vector<std::uint64_t>{3}, gadget.bits, gadget.base);
  std::vector<std::int64_t> m(ctx->poly_degree(), 5);
  const Ciphertext ct = enc.encrypt(m.data(), m.size(), Scale::from_plain_modulus(*ctx, std::uint64_t{1} << 30));
  const std::string base = gadget.base == GadgetBase::composed ? ", composed" : ", per prime";
  if (state.range(0) == 0) {
    for (auto _ : state) benchmark::DoNotOptimize(HoistedCiphertext(ctx, ct, gadget));
    state.SetLabel("decompose" + base);
  } else if (state.range(0) == 1) {
    const HoistedCiphertext hoisted(ctx, ct, gadget);
    for (auto _ : state) benchmark::DoNotOptimize(hoisted.apply_galois(3, keys));
    state.SetLabel("apply one element, GaloisKeys" + base);
  } else {
    const HoistedCiphertext hoisted(ctx, ct, gadget);
    const HoistedGaloisKeys laid_out(*ctx, keys);
    for (auto _ : state) benchmark::DoNotOptimize(hoisted.apply_galois(3, laid_out));
    state.SetLabel("apply one element, HoistedGaloisKeys" + base);
  }
}

double MinOf(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

BENCHMARK(BM_ApplyGaloisNtt)->Args({9, 0})->Args({14, 0})->Args({18, 1})->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_Hoisted)->ArgsProduct({{0, 1, 2}, {0, 1}})->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_ApplyGaloisCoeff)->Arg(1)->Arg(2)->Arg(3)->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", MinOf);
BENCHMARK(BM_KsKernelDigitLift)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KsKernelPairMac)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KsKernelReduce)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KsKernelPermuteSlots)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KsKernelAutomorphismCoeff)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
