// fhellm generate: text from a prompt, streamed token by token, then a
// one-line summary (stderr). --json prints one object instead.
#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/error.h"
#include "fhellm/he/linear_layout.h"
#include "fhellm/hybrid/artifact.h"
#include "fhellm/hybrid/execute_backend.h"
#include "fhellm/hybrid/hybrid_model.h"
#include "fhellm/hybrid/hybrid_model_io.h"
#include "fhellm/net/execute_client.h"

namespace fhellm::cli {
namespace {

struct GenerateArgs {
  std::string model, tokenizer, prompt, fhe = "execute", remote = "all-linear";
  std::string artifact, server, precision = "default";  // execute: client artifact, server URL, product precision
  std::size_t n_tokens = 64;
  float temperature = 0.0f, top_p = 1.0f;
  std::size_t top_k = 0;
  std::uint64_t seed = 0;
  bool json = false;
};

void run_generate(const GenerateArgs& a) {
  const std::filesystem::path model_path =
      a.model.empty() ? std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin" : std::filesystem::path(a.model);
  const std::filesystem::path tok_path =
      a.model.empty() && a.tokenizer.empty() ? std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin"
                                             : std::filesystem::path(a.tokenizer);
  const hybrid::FheMode mode = hybrid::parse_fhe_mode(a.fhe);
  require(mode == hybrid::FheMode::execute || (a.artifact.empty() && a.server.empty()), ErrorCode::bad_command_line,
          "--artifact and --server go with --fhe execute");
  require(a.artifact.empty() || (!a.server.empty() && a.model.empty()), ErrorCode::bad_command_line,
          "--artifact NAME.client needs --server URL (the remote weights are there) and no --model");
  // The client artifact holds no remote weight: model, tokenizer and remote set come from it.
  std::optional<hybrid::ClientArtifact> artifact;
  if (!a.artifact.empty()) artifact = hybrid::load_client_artifact(a.artifact);
  hybrid::HybridModel hm = artifact ? hybrid::HybridModel(artifact->model) : hybrid::HybridModel::load(model_path);
  const std::unique_ptr<tokenizer::Tokenizer> tok =
      artifact ? std::move(artifact->tokenizer) : hybrid::load_tokenizer_for(tok_path, model_path, hm.model());
  if (artifact) {
    hm.set_remote_modules(artifact->remote);
    hm.set_quantization(artifact->description.quant);
  } else {
    hm.set_remote_modules(a.remote);
  }
  hm.set_precision(he::parse_linear_precision(a.precision));
  auto exec_stats = std::make_shared<hybrid::ExecuteStats>();
  if (mode == hybrid::FheMode::execute) {  // a server at --server, else one in this process
    net::ExecuteClientOptions eo;
    eo.server_url = a.server;
    if (artifact) eo.expected_description = std::make_shared<const hybrid::Bytes>(artifact->description_bytes);
    exec_stats = net::enable_execute(hm, eo);
  }
  hm.set_mode(mode);

  const auto prompt = hybrid::encode_prompt(*tok, hm.model(), a.prompt);
  const std::size_t room = hm.model().config().context - std::min(hm.model().config().context, prompt.size());
  require(a.n_tokens <= room + 1, ErrorCode::context_overflow,
          std::to_string(prompt.size()) + " prompt tokens + -n " + std::to_string(a.n_tokens) +
              " exceed the model's context of " + std::to_string(hm.model().config().context));

  hybrid::GenerateOptions options;
  options.sampling = {a.temperature, a.top_k, a.top_p, a.seed};
  tokenizer::StreamDecoder stream(*tok);
  std::string text;
  // Execute figures at the start and at the first token: prompt and decode apart.
  hybrid::ExecuteStats at_start = *exec_stats, at_first_token;
  bool first = true;
  if (!a.json) {
    std::fputs(a.prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  const auto r = hm.generate(prompt, a.n_tokens, options, [&](tokenizer::TokenId id) {
    if (first) at_first_token = *exec_stats;
    first = false;
    const std::string piece = stream.push(id);
    text += piece;
    if (!a.json) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
    }
  });
  const std::string rest = stream.flush();
  text += rest;
  if (a.json) {
    nlohmann::json j = {{"ids", r.ids},
                        {"text", text},
                        {"prompt", a.prompt},
                        {"prompt_ids", prompt},
                        {"n_prompt", r.n_prompt},
                        {"n_generated", r.ids.size()},
                        {"stopped_at_eos", r.stopped_at_eos},
                        {"fhe", a.fhe},
                        {"prefill_seconds", r.prefill_seconds},
                        {"decode_seconds", r.decode_seconds},
                        {"tokens_per_second", r.tokens_per_second()},
                        {"remote_calls", r.remote.n_calls},
                        {"remote_seconds", r.remote.seconds}};
    if (mode == hybrid::FheMode::execute) {
      if (first) at_first_token = *exec_stats;
      const auto f = net::execute_figures(at_start, at_first_token, *exec_stats, r);
      for (const auto& [name, value] : net::execute_json_fields(f)) j[name] = value;
      j["bytes_up"] = exec_stats->channel.bytes_up;
      j["bytes_down"] = exec_stats->channel.bytes_down;
      j["key_upload_bytes"] = exec_stats->key_upload_bytes;
      j["server_seconds"] = exec_stats->channel.server_seconds;
      j["client_seconds"] = exec_stats->client_seconds;
    }
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fputs(rest.c_str(), stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    std::fprintf(stderr,
                 "[fhellm] %.1f tokens/s | prompt %zu tokens, generated %zu%s | fhe %s | prefill %.3f s, decode %.3f s, "
                 "%llu remote calls (%.3f s)\n",
                 r.tokens_per_second(), r.n_prompt, r.ids.size(), r.stopped_at_eos ? " (end of text)" : "",
                 a.fhe.c_str(), r.prefill_seconds, r.decode_seconds,
                 static_cast<unsigned long long>(r.remote.n_calls), r.remote.seconds);
    if (mode == hybrid::FheMode::execute && !r.ids.empty()) {
      const auto f = net::execute_figures(at_start, at_first_token, *exec_stats, r);
      std::fprintf(stderr, "%s\n", net::execute_summary_line(f).c_str());
    }
  }
}

}  // namespace

void register_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt");
  cmd->add_option("--model", args->model, "llama2.c .bin or Hugging Face folder (default: bundled stories260K)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or folder (default: next to the model)");
  cmd->add_option("--prompt,-p", args->prompt, "prompt text");
  cmd->add_option("-n,--n-tokens", args->n_tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--temperature,-t", args->temperature, "0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", args->top_p, "nucleus sampling mass")->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--top-k", args->top_k, "keep the k most likely (0 = all)")->capture_default_str();
  cmd->add_option("--seed", args->seed, "sampling seed")->capture_default_str();
  cmd->add_option("--fhe", args->fhe, "disable | simulate | execute")->capture_default_str();
  cmd->add_option("--remote", args->remote, "remote linear modules: all-linear, none, or e.g. qkv,lm_head")
      ->capture_default_str();
  cmd->add_option("--artifact", args->artifact, "execute: NAME.client written by `fhellm compile` (needs --server)");
  cmd->add_option("--server", args->server, "execute: server URL, http://HOST:PORT (default: server in this process)");
  cmd->add_option("--precision", args->precision,
                  "default (errors below 2^-16 of a layer's range, modelled by simulate) or exact (every bit; the "
                  "server must serve it)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object (ids, text, timings)");
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace fhellm::cli
