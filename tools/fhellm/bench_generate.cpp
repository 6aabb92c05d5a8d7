// fhellm bench generate: per-token latency and traffic of generation in
// execute, simulate and disable modes, on random weights of a real model's
// shape. In execute mode the server is a second process (`fhellm serve
// --random-weights`, same shape and seed) on loopback, as a user would run it.
// Per mode: time to first token and per prompt row, decode time per token,
// bytes per prompt row and per decode token; for execute also the server's
// start-up time (weights encoded before it listens) and its peak resident
// memory. The server starts cold, as a user's does.
#include <stdlib.h>  // mkdtemp

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
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
#include "hybrid/online_store.h"
#include "server_process.h"
#include "summary.h"

namespace fhellm::cli {
namespace {

struct BenchGenerateArgs {
  std::string arch = "gpt2", shape, modes = "execute,simulate,disable", precision = "default";
  bool random_weights = false, json = false, warmup = false;
  bool online = false;  // execute in the online mode: offline phase first, then measured apart
  std::size_t n_tokens = 4, prompt_tokens = 4;
  std::uint64_t seed = 1;
};

// The online mode's offline phase (docs/online.md), per row of material.
struct OfflineFigures {
  std::size_t rows = 0, head_rows = 0;  // per group
  hybrid::PrecomputeResult body, head;  // every group but the LM head; the LM head
  std::uint64_t online_rows = 0, fallback_rows = 0;  // of the measured generation
};

struct ModeFigures {
  std::string mode;
  double ms_per_token = 0, ttft_ms = 0;
  ExecuteFigures execute;  // execute only
  std::optional<OfflineFigures> offline;  // execute --online only
  double server_start_seconds = 0, server_resident_mb = 0, server_peak_rss_mb = 0;
  std::size_t calls_per_token = 0;
};

// A store and key of this run only, removed after it.
struct ScratchStore {
  std::filesystem::path dir;
  std::shared_ptr<hybrid::OnlineStore> store;
  ScratchStore() {
    std::string t = (std::filesystem::temp_directory_path() / "fhellm-bench-online-XXXXXX").string();
    require(::mkdtemp(t.data()) != nullptr, ErrorCode::io_error, "bench generate: cannot make a scratch directory");
    dir = t;
    hybrid::SecretKey32 key{};
    require(RAND_bytes(key.data(), static_cast<int>(key.size())) == 1, ErrorCode::internal_error,
            "bench generate: RAND_bytes failed");
    store = std::make_shared<hybrid::OnlineStore>(dir / "store", hybrid::ClientSecret(key));
  }
  ~ScratchStore() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// The offline phase of execute --online: enough rows for the warm-up and the
// measured run, the groups' rows and the LM head's made and measured apart.
OfflineFigures precompute_for(hybrid::HybridModel& hm, const client::ChannelFactory& channels,
                              hybrid::OnlineStore& store, const BenchGenerateArgs& a, std::size_t prompt_rows) {
  OfflineFigures f;
  f.rows = prompt_rows + a.n_tokens - 1 + (a.warmup ? prompt_rows + 1 : 0);
  f.head_rows = a.n_tokens + (a.warmup ? 2 : 0);
  hybrid::PrecomputeOptions o;
  o.rows = f.rows;
  client::OfflineSession offline(hm.model(), channels);
  f.body = offline.run(store, o);
  o.head_rows = f.head_rows;
  f.head = offline.run(store, o);
  return f;
}

ModeFigures run_mode(const std::string& mode, const std::shared_ptr<const model::Model>& m,
                     const std::vector<TokenId>& prompt, const BenchGenerateArgs& a, const std::string& shape) {
  ModeFigures f;
  f.mode = mode;
  hybrid::HybridModel hm(m);
  hm.set_precision(he::parse_linear_precision(a.precision));
  std::unique_ptr<ServerProcess> server;
  std::shared_ptr<hybrid::ExecuteStats> stats;
  std::unique_ptr<ScratchStore> scratch;
  client::OnlineFigures online;
  if (mode == "execute") {
    const bool online_mode = a.online;
    std::vector<std::string> serve = {"--random-weights", "--shape", shape, "--seed", std::to_string(a.seed),
                                      "--precision",
                                      online_mode && a.precision != "default" ? "default," + a.precision : a.precision};
    if (online_mode) serve.push_back("--online");
    server = std::make_unique<ServerProcess>(serve);
    client::ExecuteClientOptions o;
    o.server_url = server->url();
    o.timeout = std::chrono::minutes(10);
    if (!online_mode) {
      stats = client::enable_execute(hm, o);
    } else {
      scratch = std::make_unique<ScratchStore>();
      const client::ChannelFactory channels = client::make_channel_factory(hm, o);
      f.offline = precompute_for(hm, channels, *scratch->store, a, prompt.size());
      online = client::enable_online(hm, channels, scratch->store);
    }
  }
  // The execute figures (online: both sessions, online and fallback, together).
  const auto snapshot = [&] {
    if (online.online) return client::sum_stats(*online.fallback, online.online->session);
    return stats ? *stats : hybrid::ExecuteStats{};
  };
  hm.set_mode(hybrid::parse_fhe_mode(mode));
  if (hm.mode() == hybrid::FheMode::simulate) hm.quantized_linears();  // quantize before timing
  hybrid::GenerateOptions options;
  options.stop_at_eos = false;
  // Optional warm-up (not timed): the session is already open for the
  // measured run either way (linear_ops opens it before the clock starts).
  if (a.warmup) hm.generate(prompt, 2, options);
  const hybrid::ExecuteStats at_start = snapshot();
  const hybrid::OnlineStats online_start = online.online ? *online.online : hybrid::OnlineStats{};
  hybrid::ExecuteStats at_first_token;
  bool first = true;
  const auto r = hm.generate(prompt, a.n_tokens, options, [&](TokenId) {
    if (first) at_first_token = snapshot();
    first = false;
  });
  const std::size_t decode_tokens = r.ids.size() > 1 ? r.ids.size() - 1 : 1;
  f.ms_per_token = 1e3 * r.decode_seconds / static_cast<double>(decode_tokens);
  f.ttft_ms = 1e3 * r.prefill_seconds;
  f.calls_per_token = (r.remote.n_calls) / (r.ids.size() > 0 ? r.ids.size() : 1);
  if (server) {
    ClientStats cs = client::generation_stats(r);
    client::add_execute_figures(cs, at_start, first ? snapshot() : at_first_token, snapshot());
    if (f.offline) {
      f.offline->online_rows = online.online->online_rows - online_start.online_rows;
      f.offline->fallback_rows = online.online->fallback_rows - online_start.fallback_rows;
    }
    f.execute = execute_figures(cs);
    f.server_start_seconds = server->start_seconds();
    f.server_resident_mb = server->resident_after_start_mb();
    f.server_peak_rss_mb = server->peak_rss_mb();
  }
  return f;
}

// Per row of material: a row of every group but the LM head (what a prompt
// row or a decoded token uses), and a row of the LM head.
struct PerRow {
  double ms = 0, server_ms = 0, bytes_up = 0, bytes_down = 0;
};
PerRow per_row(const hybrid::PrecomputeResult& r, std::size_t rows) {
  const double n = static_cast<double>(std::max<std::size_t>(rows, 1));
  return {1e3 * r.seconds / n, 1e3 * r.channel.server_seconds / n, r.channel.bytes_up / n, r.channel.bytes_down / n};
}

nlohmann::json offline_json(const OfflineFigures& o) {
  const PerRow body = per_row(o.body, o.rows), head = per_row(o.head, o.head_rows);
  return {{"rows", o.rows},
          {"head_rows", o.head_rows},
          {"ms_per_row", body.ms},
          {"server_ms_per_row", body.server_ms},
          {"bytes_up_per_row", body.bytes_up},
          {"bytes_down_per_row", body.bytes_down},
          {"head_ms_per_row", head.ms},
          {"head_server_ms_per_row", head.server_ms},
          {"head_bytes_up_per_row", head.bytes_up},
          {"head_bytes_down_per_row", head.bytes_down},
          {"online_rows", o.online_rows},
          {"fallback_rows", o.fallback_rows}};
}

void print_offline(const OfflineFigures& o) {
  const PerRow body = per_row(o.body, o.rows), head = per_row(o.head, o.head_rows);
  std::printf("%-9s offline (precompute, before the prompt): per row of every group but the LM head %.1f ms (server "
              "%.1f), %.1f KB up, %.1f KB down; per LM head row %.1f ms (server %.1f), %.1f KB up, %.1f KB down\n",
              "", body.ms, body.server_ms, body.bytes_up / 1e3, body.bytes_down / 1e3, head.ms, head.server_ms,
              head.bytes_up / 1e3, head.bytes_down / 1e3);
  std::printf("%-9s online: %llu rows on precomputed masks, %llu through the encrypted path\n", "",
              static_cast<unsigned long long>(o.online_rows), static_cast<unsigned long long>(o.fallback_rows));
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
      if (f.offline) m["offline"] = offline_json(*f.offline);
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
    if (f.offline) print_offline(*f.offline);
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
  cmd->add_flag("--online", args->online,
                "execute in the online mode (docs/online.md): the server keeps its int8 weights, masks are "
                "precomputed first (reported apart, per row), then the generation is measured");
  cmd->add_flag("--json", args->json, "one JSON object with ms_per_token, bytes_up_per_token, bytes_down_per_token per mode");
  cmd->callback([args] { run_bench_generate(*args); });
}

}  // namespace fhellm::cli
