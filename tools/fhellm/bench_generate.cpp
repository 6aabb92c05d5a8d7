// fhellm bench generate: per-token latency and traffic of generation in
// execute, simulate and disable modes, on random weights of a real model's
// shape. In execute mode the server is a second process (`fhellm serve
// --random-weights`, same shape and seed) on loopback, as a user would run it.
// Per mode: time to first token and per prompt row, decode time per token,
// bytes per prompt row and per decode token; for execute also the server's
// start-up time (weights encoded before it listens) and its peak resident
// memory. The server starts cold, as a user's does.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/error.h"
#include "hybrid/hybrid_model.h"
#include "model/loader.h"
#include "client/execute_channel.h"
#include "client/generation_stats.h"
#include "server_process.h"
#include "summary.h"

namespace fhellm::cli {
namespace {

struct BenchGenerateArgs {
  std::string arch = "gpt2", shape, modes = "execute,simulate,disable", precision = "default";
  bool random_weights = false, json = false, warmup = false;
  std::size_t n_tokens = 4, prompt_tokens = 4;
  std::uint64_t seed = 1;
};

struct ModeFigures {
  std::string mode;
  double ms_per_token = 0, ttft_ms = 0;
  ExecuteFigures execute;  // execute only
  double server_start_seconds = 0, server_resident_mb = 0, server_peak_rss_mb = 0;
  std::size_t calls_per_token = 0;
};

ModeFigures run_mode(const std::string& mode, const std::shared_ptr<const model::Model>& m,
                     const std::vector<TokenId>& prompt, const BenchGenerateArgs& a, const std::string& shape) {
  ModeFigures f;
  f.mode = mode;
  hybrid::HybridModel hm(m);
  hm.set_precision(he::parse_linear_precision(a.precision));
  std::unique_ptr<ServerProcess> server;
  std::shared_ptr<hybrid::ExecuteStats> stats;
  if (mode == "execute") {
    server = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--random-weights", "--shape", shape, "--seed", std::to_string(a.seed), "--precision", a.precision});
    client::ExecuteClientOptions o;
    o.server_url = server->url();
    o.timeout = std::chrono::minutes(10);
    stats = client::enable_execute(hm, o);
  }
  hm.set_mode(hybrid::parse_fhe_mode(mode));
  if (hm.mode() == hybrid::FheMode::simulate) hm.quantized_linears();  // quantize before timing
  hybrid::GenerateOptions options;
  options.stop_at_eos = false;
  // Optional warm-up (not timed): the session is already open for the
  // measured run either way (linear_ops opens it before the clock starts).
  if (a.warmup) hm.generate(prompt, 2, options);
  const hybrid::ExecuteStats at_start = stats ? *stats : hybrid::ExecuteStats{};
  hybrid::ExecuteStats at_first_token;
  bool first = true;
  const auto r = hm.generate(prompt, a.n_tokens, options, [&](TokenId) {
    if (first && stats) at_first_token = *stats;
    first = false;
  });
  const std::size_t decode_tokens = r.ids.size() > 1 ? r.ids.size() - 1 : 1;
  f.ms_per_token = 1e3 * r.decode_seconds / static_cast<double>(decode_tokens);
  f.ttft_ms = 1e3 * r.prefill_seconds;
  f.calls_per_token = (r.remote.n_calls) / (r.ids.size() > 0 ? r.ids.size() : 1);
  if (stats) {
    ClientStats cs = client::generation_stats(r);
    client::add_execute_figures(cs, at_start, first ? *stats : at_first_token, *stats);
    f.execute = execute_figures(cs);
    f.server_start_seconds = server->start_seconds();
    f.server_resident_mb = server->resident_after_start_mb();
    f.server_peak_rss_mb = server->peak_rss_mb();
  }
  return f;
}

void run_bench_generate(const BenchGenerateArgs& a) {
  require(a.random_weights, ErrorCode::bad_command_line,
          "bench generate: only --random-weights is supported (real-shape random weights in both processes)");
  require(a.n_tokens >= 2, ErrorCode::bad_command_line, "bench generate: -n must be at least 2 (decode tokens)");
  const std::string shape = !a.shape.empty() ? a.shape : (a.arch == "llama" ? "llama-3.2-1b" : "gpt2-124m");
  const model::ModelConfig config = model::shape_preset(shape);
  const auto m = model::random_model(config, a.seed);
  std::vector<TokenId> prompt(std::max<std::size_t>(1, a.prompt_tokens));
  for (std::size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = static_cast<TokenId>((i * 7919 + 13) % config.vocab_size);

  std::vector<ModeFigures> figures;
  std::stringstream list(a.modes);
  for (std::string mode; std::getline(list, mode, ',');) {
    hybrid::parse_fhe_mode(mode);  // refuse unknown names before any work
    figures.push_back(run_mode(mode, m, prompt, a, shape));
  }
  if (a.json) {
    nlohmann::json modes = nlohmann::json::object();
    for (const ModeFigures& f : figures) {
      nlohmann::json m = {{"ms_per_token", f.ms_per_token},
                          {"ttft_ms", f.ttft_ms},
                          {"prefill_ms_per_row", f.ttft_ms / static_cast<double>(prompt.size())},
                          {"remote_calls_per_token", f.calls_per_token},
                          {"bytes_up_per_token", 0.0},
                          {"bytes_down_per_token", 0.0}};
      if (f.mode == "execute") {
        for (const auto& [name, value] : execute_json_fields(f.execute)) m[name] = value;
        m["server_start_seconds"] = f.server_start_seconds;
        m["server_resident_mb"] = f.server_resident_mb;
        m["server_peak_rss_mb"] = f.server_peak_rss_mb;
      }
      modes[f.mode] = m;
    }
    const nlohmann::json j = {{"shape", shape},
                              {"arch", model::architecture_name(config.arch)},
                              {"parameters", m->n_parameters()},
                              {"seed", a.seed},
                              {"precision", a.precision},
                              {"prompt_tokens", prompt.size()},
                              {"n_tokens", a.n_tokens},
                              {"modes", modes}};
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("%s (random weights, seed %llu), prompt %zu tokens, %zu generated, precision %s\n", shape.c_str(),
              static_cast<unsigned long long>(a.seed), prompt.size(), a.n_tokens, a.precision.c_str());
  std::printf("%-9s %10s %12s %12s %10s %10s %10s %12s %12s\n", "mode", "TTFT ms", "prefill/row", "decode/tok",
              "client", "server", "network", "up/token", "down/token");
  for (const ModeFigures& f : figures) {
    const ExecutePhase& d = f.execute.decode;
    std::printf("%-9s %10.1f %9.1f ms %9.1f ms %7.1f ms %7.1f ms %7.1f ms %9.1f KB %9.1f KB\n", f.mode.c_str(),
                f.ttft_ms, f.ttft_ms / static_cast<double>(prompt.size()), f.ms_per_token, d.client_ms, d.server_ms,
                d.network_ms, d.bytes_up / 1e3, d.bytes_down / 1e3);
    if (f.mode == "execute") {
      std::printf("%-9s prompt: %.1f KB up, %.1f KB down per row; server %.1f ms per row\n", "",
                  f.execute.prefill.bytes_up / 1e3, f.execute.prefill.bytes_down / 1e3, f.execute.prefill.server_ms);
      std::printf("%-9s server: ready in %.1f s, RSS %.0f MB once listening, peak %.0f MB while serving; session keys "
                  "%.2f MB, opened in %.2f s\n", "",
                  f.server_start_seconds, f.server_resident_mb, f.server_peak_rss_mb,
                  static_cast<double>(f.execute.key_upload_bytes) / 1e6,
                  f.execute.session_open_seconds);
    }
  }
}

}  // namespace

void register_bench_generate(CLI::App& bench) {
  auto args = std::make_shared<BenchGenerateArgs>();
  auto* cmd = bench.add_subcommand("generate", "Per-token latency and traffic: execute (two processes), simulate, disable");
  cmd->add_option("--arch", args->arch, "gpt2 (GPT-2 124M shape) or llama (Llama-3.2-1B shape)")
      ->capture_default_str()
      ->check(CLI::IsMember({"gpt2", "llama"}));
  cmd->add_option("--shape", args->shape, "a named shape instead (gpt2-124m, llama-3.2-1b, stories260k)");
  cmd->add_flag("--random-weights", args->random_weights, "random weights of the shape (required)");
  cmd->add_option("--modes", args->modes, "comma list of modes")->capture_default_str();
  cmd->add_option("--precision", args->precision, "execute: exact or default")->capture_default_str();
  cmd->add_option("-n,--n-tokens", args->n_tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "prompt length")->capture_default_str();
  cmd->add_option("--seed", args->seed, "weight seed")->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "run 2 untimed tokens first (default: measure a cold first use)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "one JSON object with ms_per_token, bytes_up_per_token, bytes_down_per_token per mode");
  cmd->callback([args] { run_bench_generate(*args); });
}

}  // namespace fhellm::cli
