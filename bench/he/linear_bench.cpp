// Google Benchmark twin of `fhellm bench linear`: the encrypted matrix product
// (server side, client encrypt, client decrypt) for a few GPT-2 shapes.
// Run: build/bench/fhellm_bench_he --benchmark_filter=Linear
// Counters: bytes_up, bytes_down, key_switches, products per call.
#include <benchmark/benchmark.h>

#include <random>

#include "he/linear.h"

using namespace fhellm::he;

namespace {

struct LinearFixture {
  LinearShape shape;
  LinearClient client{std::vector<ParamId>{ParamId::n2048_q54, ParamId::n4096_q108}};
  LinearServerKeys keys = client.server_keys();
  std::vector<std::uint8_t> x;
  std::unique_ptr<EncodedWeights> weights;
  LinearPlan plan;

  explicit LinearFixture(LinearShape s) : shape(s), plan(plan_linear(s, LinearPrecision::standard, false)) {
    std::mt19937_64 rng(1);
    x.resize(std::size_t{s.rows} * s.in);
    for (auto& v : x) v = static_cast<std::uint8_t>(rng());
    std::vector<std::int8_t> w(std::size_t{s.out} * s.in);
    for (auto& v : w) v = static_cast<std::int8_t>(rng());
    weights = std::make_unique<EncodedWeights>(w, s.out, s.in);
  }
};

LinearShape shape_of(const benchmark::State& state) {
  return {static_cast<std::uint32_t>(state.range(0)), static_cast<std::uint32_t>(state.range(1)),
          static_cast<std::uint32_t>(state.range(2))};
}

void counters(benchmark::State& state, const LinearFixture& f) {
  state.counters["bytes_up"] = static_cast<double>(f.plan.bytes_up());
  state.counters["bytes_down"] = static_cast<double>(f.plan.bytes_down());
  state.counters["key_switches"] = static_cast<double>(f.plan.key_switches());
  state.counters["products"] = static_cast<double>(f.plan.products());
}

void BM_LinearServer(benchmark::State& state) {
  LinearFixture f(shape_of(state));
  const auto upload = f.client.encrypt(std::span<const std::uint8_t>(f.x), f.shape);
  const std::size_t threads = static_cast<std::size_t>(state.range(3));
  for (auto _ : state) benchmark::DoNotOptimize(linear_evaluate(upload, *f.weights, f.keys, threads));
  counters(state, f);
}

void BM_LinearClientEncrypt(benchmark::State& state) {
  LinearFixture f(shape_of(state));
  for (auto _ : state) benchmark::DoNotOptimize(f.client.encrypt(std::span<const std::uint8_t>(f.x), f.shape));
  counters(state, f);
}

void BM_LinearClientDecrypt(benchmark::State& state) {
  LinearFixture f(shape_of(state));
  const auto reply = linear_evaluate(f.client.encrypt(std::span<const std::uint8_t>(f.x), f.shape), *f.weights, f.keys);
  for (auto _ : state) benchmark::DoNotOptimize(f.client.decrypt(reply));
  counters(state, f);
}

}  // namespace

// {T, k, n, threads}
BENCHMARK(BM_LinearServer)
    ->Args({1, 768, 768, 1})
    ->Args({1, 768, 2304, 1})
    ->Args({1, 768, 2304, 2})
    ->Args({1, 3072, 768, 2})
    ->Args({32, 768, 768, 2})
    ->Args({32, 768, 2304, 1})
    ->Args({128, 768, 2304, 2})
    ->Args({32, 3072, 768, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LinearClientEncrypt)->Args({1, 768, 2304})->Args({32, 768, 2304})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearClientDecrypt)->Args({1, 768, 2304})->Args({32, 768, 2304})->Unit(benchmark::kMillisecond);
