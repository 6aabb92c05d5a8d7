// fhellm bench model: clear tokens/s of the engine (disable or simulate),
// on a real model or on random weights of a real model's shape.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/error.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"
#include "common/thread_pool.h"

namespace fhellm::cli {
namespace {

struct BenchModelArgs {
  std::string arch = "gpt2", shape, model, fhe = "simulate";
  bool random_weights = false, json = false;
  std::size_t n_tokens = 32, prompt_tokens = 16, repeat = 3;
  std::uint64_t seed = 1;
};

void run_bench_model(const BenchModelArgs& a) {
  const auto start_load = std::chrono::steady_clock::now();
  std::shared_ptr<const model::Model> m;
  std::string what;
  if (!a.model.empty()) {
    m = model::load_model(a.model);
    what = a.model;
  } else {
    require(a.random_weights, ErrorCode::bad_command_line, "bench model: give --model PATH or --random-weights");
    const std::string shape = !a.shape.empty() ? a.shape : (a.arch == "llama" ? "llama-3.2-1b" : "gpt2-124m");
    model::ModelConfig c = model::shape_preset(shape);
    require(std::string(model::architecture_name(c.arch)) == a.arch || a.shape.empty() || a.arch.empty(),
            ErrorCode::bad_command_line, "bench model: --shape " + shape + " is not --arch " + a.arch);
    m = model::random_model(c, a.seed);
    what = shape + " (random weights, seed " + std::to_string(a.seed) + ")";
  }
  hybrid::HybridModel hm(m);
  hm.set_mode(hybrid::parse_fhe_mode(a.fhe));
  if (hm.mode() == hybrid::FheMode::simulate) hm.quantized_linears();  // quantize before timing
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_load).count();

  const model::ModelConfig& c = m->config();
  std::vector<TokenId> prompt(std::max<std::size_t>(1, a.prompt_tokens));
  for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<TokenId>((i * 7919 + 13) % c.vocab_size);
  hybrid::GenerateOptions options;
  options.stop_at_eos = false;
  double best_decode = 0.0, best_prefill = 0.0, best_total = 0.0;
  for (std::size_t rep = 0; rep < std::max<std::size_t>(1, a.repeat); ++rep) {
    const auto r = hm.generate(prompt, a.n_tokens, options);
    // Decode rate: tokens after the first over the decode time.
    const double decode = r.ids.size() > 1 && r.decode_seconds > 0 ? (r.ids.size() - 1) / r.decode_seconds : 0.0;
    const double prefill = r.prefill_seconds > 0 ? prompt.size() / r.prefill_seconds : 0.0;
    best_decode = std::max(best_decode, decode);
    best_prefill = std::max(best_prefill, prefill);
    best_total = std::max(best_total, r.tokens_per_second());
  }
  if (a.json) {
    nlohmann::json j = {{"model", what},
                        {"arch", model::architecture_name(c.arch)},
                        {"parameters", m->n_parameters()},
                        {"fhe", a.fhe},
                        {"threads", n_threads()},
                        {"prompt_tokens", prompt.size()},
                        {"n_tokens", a.n_tokens},
                        {"repeat", a.repeat},
                        {"decode_tokens_per_second", best_decode},
                        {"prefill_tokens_per_second", best_prefill},
                        {"tokens_per_second", best_total},
                        {"setup_seconds", load_seconds}};
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("%s: %zu parameters, fhe %s, %zu threads (best of %zu)\n", what.c_str(), m->n_parameters(), a.fhe.c_str(),
              n_threads(), a.repeat);
  std::printf("  decode  %.1f tokens/s (%.2f ms/token)\n", best_decode, best_decode > 0 ? 1000.0 / best_decode : 0.0);
  std::printf("  prefill %.1f tokens/s (%zu prompt tokens)\n", best_prefill, prompt.size());
  std::printf("  overall %.1f tokens/s for %zu generated tokens; setup %.2f s\n", best_total, a.n_tokens, load_seconds);
}

}  // namespace

void register_bench_model(CLI::App& bench) {
  auto args = std::make_shared<BenchModelArgs>();
  auto* cmd = bench.add_subcommand("model", "Clear tokens/s of the engine (disable or simulate)");
  cmd->add_option("--arch", args->arch, "gpt2 | llama (with --random-weights)")->capture_default_str();
  cmd->add_flag("--random-weights", args->random_weights, "random weights of a real model's shape");
  cmd->add_option("--shape", args->shape, "gpt2-124m | llama-3.2-1b | stories260k (default by --arch)");
  cmd->add_option("--model", args->model, "a real model instead of random weights");
  cmd->add_option("--fhe", args->fhe, "disable | simulate")->capture_default_str();
  cmd->add_option("-n,--n-tokens", args->n_tokens, "tokens to generate per run")->capture_default_str();
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "prompt length (prefill)")->capture_default_str();
  cmd->add_option("--repeat", args->repeat, "runs; the best is reported")->capture_default_str();
  cmd->add_option("--seed", args->seed, "weights seed")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_bench_model(*args); });
}

}  // namespace fhellm::cli
