// fhellm compile: splits a model into NAME.server (remote int8 weights) and
// NAME.client (everything else), see src/hybrid/artifact.h.
// With --random-weights the model is model::random_model of a named shape:
// artifacts of a real model's sizes without its weights (benchmarks, tests).
#include <cstdio>
#include <filesystem>

#include "cli_common.h"
#include "commands.h"
#include "fhellm/error.h"
#include "common/progress.h"
#include "hybrid/artifact.h"
#include "model/loader.h"

namespace fhellm::cli {

namespace {

struct CompileArgs {
  std::string model, out, remote = "default", tokenizer, shape;
  bool random_weights = false;
  std::uint64_t seed = 1;
  int bits = 8;
  int activation_bits = 8;
};

// Every check that needs no model: a wrong command fails before a random
// model of a large shape is built.
void validate(const CompileArgs& a, const CLI::App& cmd) {
  require(a.model.empty() != !a.random_weights, ErrorCode::bad_command_line,
          "compile needs exactly one of --model PATH or --random-weights --shape NAME");
  if (!a.random_weights) {
    require(a.shape.empty() && cmd.count("--seed") == 0, ErrorCode::bad_command_line,
            "--shape and --seed go with --random-weights");
    return;
  }
  require(!a.shape.empty(), ErrorCode::bad_command_line,
          "--random-weights needs --shape NAME (gpt2-124m, llama-3.2-1b, stories260k)");
  require(!a.tokenizer.empty(), ErrorCode::bad_command_line,
          "--random-weights needs --tokenizer PATH (a random model has no folder to find one in)");
  std::error_code ec;
  require(std::filesystem::exists(a.tokenizer, ec), ErrorCode::file_not_found,
          "tokenizer '" + a.tokenizer + "' not found");
}

void run_compile(const CompileArgs& a, const CLI::App& cmd) {
  validate(a, cmd);
  hybrid::CompileOptions options;
  options.remote = a.remote;
  options.quant.weight_bits = a.bits;
  options.quant.activation_bits = a.activation_bits;
  options.tokenizer = a.tokenizer;
  Progress::Options po;
  po.enabled = !global_flags().quiet;
  Progress progress("compile: quantizing layer groups", 0, po);
  options.progress = progress.callback();
  const hybrid::CompileReport r =
      a.random_weights
          ? hybrid::compile_artifacts(model::random_model(model::shape_preset(a.shape), a.seed), a.out, options)
          : hybrid::compile_artifacts(a.model, a.out, options);
  progress.finish();
  if (a.random_weights) {
    std::printf("fhellm compile: random weights of shape %s, seed %llu\n", a.shape.c_str(),
                static_cast<unsigned long long>(a.seed));
  }
  std::printf("fhellm compile: %zu remote layer groups, %d-bit weights\n  %s  %.2f MB (server: weights stored as int8, no client data)\n"
              "  %s  %.2f MB (client: norms, biases, local tables, scales, tokenizer; no remote weight)\n",
              r.n_remote, a.bits, r.server_path.string().c_str(), static_cast<double>(r.server_bytes) / 1e6,
              r.client_path.string().c_str(), static_cast<double>(r.client_bytes) / 1e6);
}

}  // namespace

void register_compile(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  auto* cmd = app.add_subcommand("compile", "Split a model into a server artifact and a client artifact");
  cmd->footer(
      "Examples:\n"
      "  fhellm compile --model models/stories260K.bin --out st\n"
      "  fhellm compile --random-weights --shape gpt2-124m --tokenizer ../shared/models/gpt2-tokenizer --out g\n"
      "With --random-weights the model is seeded random weights of a named shape (real sizes, no\n"
      "weights needed): serve the .server and generate with the .client as for a real model.");
  cmd->add_option("--model", args->model, "llama2.c .bin, GGUF file or Hugging Face folder");
  cmd->add_flag("--random-weights", args->random_weights,
                "instead of --model: random weights of --shape (needs --tokenizer)");
  cmd->add_option("--shape", args->shape, "with --random-weights: gpt2-124m, llama-3.2-1b, stories260k");
  cmd->add_option("--seed", args->seed, "with --random-weights: weight seed")->capture_default_str();
  cmd->add_option("--out", args->out, "output prefix: writes PREFIX.server and PREFIX.client")->required();
  cmd->add_option("--bits", args->bits,
                  "weight bits (symmetric, per output channel: 2^(bits-1)-1 levels each side). Changes accuracy only: "
                  "the server artifact stores every weight in 8 bits and the encrypted product uses the same "
                  "parameters at any --bits, so neither the artifact size nor the traffic changes")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  cmd->add_option("--activation-bits", args->activation_bits, "activation bits (per row, with a zero point)")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  cmd->add_option("--remote", args->remote, "remote modules: default (every linear layer and the token embedding: the client holds no vocabulary-sized matrix), all (the position table too), all-linear, or e.g. embedding,qkv,lm_head")
      ->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer file or folder (default: next to the model; required with --random-weights)");
  cmd->callback([args, cmd] { run_compile(*args, *cmd); });
}

}  // namespace fhellm::cli
