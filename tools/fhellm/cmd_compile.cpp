// fhellm compile: splits a model into NAME.server (remote int8 weights) and
// NAME.client (everything else), see include/fhellm/hybrid/artifact.h.
#include <cstdio>

#include "commands.h"
#include "fhellm/error.h"
#include "fhellm/hybrid/artifact.h"

namespace fhellm::cli {

namespace {

struct CompileArgs {
  std::string model, out, remote = "all-linear", tokenizer;
  int bits = 8;
  int activation_bits = 8;
};

void run_compile(const CompileArgs& a) {
  hybrid::CompileOptions options;
  options.remote = a.remote;
  options.quant.weight_bits = a.bits;
  options.quant.activation_bits = a.activation_bits;
  options.tokenizer = a.tokenizer;
  const hybrid::CompileReport r = hybrid::compile_artifacts(a.model, a.out, options);
  std::printf("fhellm compile: %zu remote layer groups\n  %s  %.2f MB (server: int8 weights, no client data)\n"
              "  %s  %.2f MB (client: embeddings, norms, biases, scales, tokenizer; no remote weight)\n",
              r.n_remote, r.server_path.string().c_str(), static_cast<double>(r.server_bytes) / 1e6,
              r.client_path.string().c_str(), static_cast<double>(r.client_bytes) / 1e6);
}

}  // namespace

void register_compile(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  auto* cmd = app.add_subcommand("compile", "Split a model into a server artifact and a client artifact");
  cmd->add_option("--model", args->model, "llama2.c .bin, GGUF file or Hugging Face folder")->required();
  cmd->add_option("--out", args->out, "output prefix: writes PREFIX.server and PREFIX.client")->required();
  cmd->add_option("--bits", args->bits, "weight bits (symmetric, per output channel)")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  cmd->add_option("--activation-bits", args->activation_bits, "activation bits (per row, with a zero point)")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  cmd->add_option("--remote", args->remote, "remote linear modules: all-linear, or e.g. qkv,lm_head")
      ->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or folder (default: next to the model)");
  cmd->callback([args] { run_compile(*args); });
}

}  // namespace fhellm::cli
