// fhellm generate: text from a prompt, streamed token by token, then a
// one-line summary (stderr). --json prints one object instead.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "fhellm/client.h"
#include "fhellm/error.h"
#include "net/api_keys.h"
#include "interrupt.h"
#include "summary.h"

namespace fhellm::cli {
namespace {

struct GenerateArgs {
  std::string model, tokenizer, prompt, fhe = "execute", remote = "default";
  std::string prompt_file;                              // -f FILE, "-" for stdin
  std::string artifact, server, precision = "default";  // execute: client artifact, server URL, product precision
  std::int64_t n_tokens = 64;                           // -1: until end of text or of the context
  GenerateOptions options;                              // sampling, --ctx-size and --stop (-n apart)
  int threads = 0;
  int bits = 0;  // with --model: weight bits of the remote modules (0: 8; an artifact fixes its own)
  std::string api_key, ca_cert;                         // execute: the server's API key (or FHELLM_API_KEY), HTTPS CA
  bool json = false;
  bool online = false;                 // execute: precomputed masks (docs/online.md)
  std::string online_store, client_key;  // online: where the material is, and the key it is stored under
};

ClientOptions client_options(const GenerateArgs& a) {
  require(a.fhe == "execute" || (a.artifact.empty() && a.server.empty()), ErrorCode::bad_command_line,
          "--artifact and --server go with --fhe execute");
  require(a.artifact.empty() || (!a.server.empty() && a.model.empty()), ErrorCode::bad_command_line,
          "--artifact NAME.client needs --server URL (the remote weights are there) and no --model");
  require(a.artifact.empty() || a.bits == 0, ErrorCode::bad_command_line,
          "--bits goes with --model: a client artifact was compiled at its own bits");
  ClientOptions o;
  o.artifact = a.artifact;
  if (a.artifact.empty()) {  // default: the model bundled in the repository
    o.model = a.model.empty() ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin").string() : a.model;
    o.tokenizer = a.model.empty() && a.tokenizer.empty()
                      ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin").string()
                      : a.tokenizer;
  }
  o.fhe = a.fhe;
  o.server_url = a.server;
  o.remote = a.remote;
  o.precision = a.precision;
  o.weight_bits = a.bits;
  o.api_key = net::api_key_from(a.api_key);
  o.ca_cert = a.ca_cert;
  require(!a.online || a.fhe == "execute", ErrorCode::bad_command_line, "--online goes with --fhe execute");
  o.online = a.online;
  o.online_store = a.online_store;
  o.client_key = a.client_key;
  return o;
}

// The online mode says where each row went, and says so loudly when the material ran out.
void report_online(const ClientStats& s, bool summary) {
  if (s.fallback_rows > 0)
    std::fprintf(stderr,
                 "[fhellm] online material ran out: %llu of %llu remote rows went through the encrypted path "
                 "(`fhellm precompute --rows N` stores more)\n",
                 static_cast<unsigned long long>(s.fallback_rows),
                 static_cast<unsigned long long>(s.fallback_rows + s.online_rows));
  else if (summary)
    std::fprintf(stderr, "[fhellm] online: %llu remote rows on precomputed masks, none encrypted\n",
                 static_cast<unsigned long long>(s.online_rows));
}

void print_json(const GenerateArgs& a, const GenerateResult& r, const ClientStats& s) {
  nlohmann::json j = {{"ids", r.ids},
                      {"text", r.text},
                      {"prompt", a.prompt},
                      {"prompt_ids", r.prompt_ids},
                      {"n_prompt", s.n_prompt_tokens},
                      {"n_generated", r.ids.size()},
                      {"stopped_at_eos", r.stopped_at_eos},
                      {"stop", r.stop},
                      {"fhe", a.fhe},
                      {"prefill_seconds", s.prefill_ms / 1e3},
                      {"decode_seconds", s.decode_ms / 1e3},
                      {"tokens_per_second", s.tokens_per_second},
                      {"remote_calls", s.remote_calls},
                      {"remote_seconds", s.remote_ms / 1e3}};
  if (a.fhe == "execute") {
    for (const auto& [name, value] : execute_json_fields(execute_figures(s))) j[name] = value;
    j["bytes_up"] = s.bytes_up;
    j["bytes_down"] = s.bytes_down;
    j["key_upload_bytes"] = s.session_key_bytes;
    j["server_seconds"] = s.server_ms / 1e3;
    j["client_seconds"] = s.crypto_ms / 1e3;
    if (a.online) {
      j["online_rows"] = s.online_rows;
      j["fallback_rows"] = s.fallback_rows;
    }
  }
  std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

void print_summary(const GenerateArgs& a, const GenerateResult& r, const ClientStats& s) {
  std::fprintf(stderr,
               "[fhellm] %.1f tokens/s | prompt %zu tokens, generated %zu%s | fhe %s | prefill %.3f s, decode %.3f s, "
               "%llu remote calls (%.3f s)\n",
               s.tokens_per_second, s.n_prompt_tokens, r.ids.size(), r.stopped_at_eos ? " (end of text)" : "",
               a.fhe.c_str(), s.prefill_ms / 1e3, s.decode_ms / 1e3, static_cast<unsigned long long>(s.remote_calls),
               s.remote_ms / 1e3);
  if (a.fhe == "execute" && !r.ids.empty()) std::fprintf(stderr, "%s\n", execute_summary_line(execute_figures(s)).c_str());
}

void print_settings(const GenerateArgs& a, const Client& client) {
  const ClientModelInfo m = client.model_info();
  std::fprintf(stderr,
               "[fhellm] model %s | %s, vocabulary %zu | context %zu | prompt %zu tokens | fhe %s | %zu remote "
               "modules | threads %zu\n",
               a.artifact.empty() ? (a.model.empty() ? "stories260K (bundled)" : a.model.c_str()) : a.artifact.c_str(),
               m.architecture.c_str(), m.vocab_size, a.options.context_size ? a.options.context_size : m.context,
               client.tokenize(a.prompt).size(), m.fhe.c_str(), m.n_remote_modules, n_threads());
}

// A long prompt's pass, the wait before the first token, as a bar on a
// terminal once it has lasted a second (a short prompt shows nothing).
class PromptBar {
 public:
  explicit PromptBar(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void report(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    if (!bar_) {
      if (std::chrono::steady_clock::now() - start_ < std::chrono::seconds(1)) return;
      Progress::Options o;
      o.terminal = 1;
      bar_ = std::make_unique<Progress>("fhellm generate: prompt (linear layers)", total, o);
    }
    bar_->set(done);
    if (done >= total) bar_->finish();
  }
  void finish() {
    if (bar_) bar_->finish();
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<Progress> bar_;
};

void run_generate(GenerateArgs a, bool prompt_given) {
  apply_threads(a.threads);
  a.prompt = prompt_text(a.prompt, a.prompt_file, prompt_given);
  Client client(client_options(a));
  if (global_flags().verbose) print_settings(a, client);
  GenerateOptions options = a.options;
  options.max_tokens = a.n_tokens < 0 ? kUntilContextEnd : static_cast<std::size_t>(a.n_tokens);
  PromptBar bar(!a.json && !global_flags().quiet && isatty(fileno(stderr)) != 0);
  options.prompt_progress = [&](std::uint64_t done, std::uint64_t total) { bar.report(done, total); };
  // The prompt's text goes out once its pass is done, so a bar never shares its line.
  bool prompt_shown = a.json;
  const auto show_prompt = [&] {
    if (prompt_shown) return;
    bar.finish();
    std::fputs(a.prompt.c_str(), stdout);
    std::fflush(stdout);
    prompt_shown = true;
  };
  const InterruptScope interrupt;  // Ctrl-C: stop after this token, close the session, exit 130
  const GenerateResult r = client.generate(a.prompt, options, [&](std::string_view piece) {
    show_prompt();
    if (!a.json) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return !interrupted();
  });
  show_prompt();
  if (interrupted()) {
    std::fputs("\n", stdout);
    throw_if_interrupted();  // unwinding closes the client's session
  }
  if (a.json) {
    if (a.online) report_online(client.last_stats(), false);
    print_json(a, r, client.last_stats());
    return;
  }
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (!global_flags().quiet) print_summary(a, r, client.last_stats());
  if (a.online) report_online(client.last_stats(), !global_flags().quiet);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt");
  cmd->add_option("-m,--model", args->model, "llama2.c .bin, GGUF or Hugging Face folder (default: bundled stories260K)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or folder (default: next to the model)");
  auto* prompt = cmd->add_option("-p,--prompt", args->prompt, "prompt text");
  cmd->add_option("-f,--file", args->prompt_file, "read the prompt from FILE (- for standard input)");
  cmd->add_option("-n,--n-predict,--n-tokens", args->n_tokens, "tokens to generate (-1: until end of text or context)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 40));
  cmd->add_option("-c,--ctx-size", args->options.context_size, "context size (0: the model's)")->capture_default_str();
  add_sampling_options(cmd, args->options);
  cmd->add_option("--stop", args->options.stop, "stop when this text appears (repeat for several); it is not printed");
  add_threads_option(cmd, args->threads);
  cmd->add_option("--bits", args->bits, "with --model: weight bits of the remote modules (simulate, execute; default 8)")
      ->check(CLI::Range(2, 8));
  cmd->add_option("--fhe", args->fhe, "disable | simulate | execute")->capture_default_str();
  cmd->add_option("--remote", args->remote, "remote modules: default (every linear layer and the token embedding), all, all-linear, none, or e.g. embedding,qkv,lm_head")
      ->capture_default_str();
  cmd->add_option("--artifact", args->artifact, "execute: NAME.client written by `fhellm compile` (needs --server)");
  cmd->add_option("--server", args->server, "execute: server URL, http://HOST:PORT (default: server in this process)");
  cmd->add_option("--precision", args->precision,
                  "default (errors below 2^-16 of a layer's range, modelled by simulate) or exact (every bit, "
                  "equal to simulate's; each row evaluated twice: ~1.5x the time, ~1.3x the traffic)")
      ->capture_default_str();
  cmd->add_option("--api-key", args->api_key, "execute: API key of the server (default: $FHELLM_API_KEY)");
  cmd->add_option("--ca-cert", args->ca_cert, "execute: PEM CA file to trust for an https:// server");
  cmd->add_flag("--online", args->online,
                "execute: use masks precomputed by `fhellm precompute` (clear products on the server, exact); rows "
                "without material go encrypted");
  cmd->add_option("--online-store", args->online_store,
                  "online: the material's directory (default: ~/.cache/fhellm/online)");
  cmd->add_option("--client-key", args->client_key,
                  "online: the key the material is stored under (default: ~/.config/fhellm/client.key, created "
                  "0600)");
  cmd->add_flag("--json", args->json, "print one JSON object (ids, text, timings)");
  cmd->callback([args, prompt] { run_generate(*args, prompt->count() > 0); });
}

}  // namespace fhellm::cli
