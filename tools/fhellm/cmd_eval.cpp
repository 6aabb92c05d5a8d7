// fhellm eval: perplexity of a text file under a model, in one FHE mode or
// (--compare) also in disable, with the top-1 agreement between the two.
// Scored in overlapping windows with a stride (PerplexityOptions). With
// --draws K the text is scored K times (simulate: K independent draws of the
// modelled errors; execute: K runs, each with fresh encryption noise), to
// show the spread one run's perplexity has.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "fhellm/client.h"
#include "fhellm/error.h"
#include "common/progress.h"

namespace fhellm::cli {
namespace {

struct EvalArgs {
  std::string model, tokenizer, text_file, fhe = "simulate", remote = "default", precision = "default";
  std::string artifact, server;  // execute against a server: the client artifact and the server's URL
  std::size_t window = 0, stride = 0;
  int bits = 0;  // with --model (0: 8)
  int threads = 0;
  std::size_t draws = 1;
  bool compare = false, json = false;
};

// The model to score with: the client artifact's (remote weights on the
// server), or the model file's with its weights quantized to --bits.
ClientOptions client_options(const EvalArgs& a) {
  require(a.server.empty() || a.fhe == "execute", ErrorCode::bad_command_line, "--server goes with --fhe execute");
  ClientOptions o;
  if (!a.artifact.empty()) {
    require(a.fhe == "execute" && !a.server.empty() && a.model.empty() && a.bits == 0, ErrorCode::bad_command_line,
            "--artifact NAME.client goes with --fhe execute and --server URL, without --model or --bits "
            "(the artifact fixes the bits)");
    require(!a.compare, ErrorCode::bad_command_line, "--compare needs the model's weights (--model), not an artifact");
    o.artifact = a.artifact;
  } else {  // default: the model bundled in the repository
    o.model = a.model.empty() ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin").string() : a.model;
    o.tokenizer = a.model.empty() && a.tokenizer.empty()
                      ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin").string()
                      : a.tokenizer;
    o.remote = a.remote;
    o.weight_bits = a.bits;
  }
  o.fhe = a.fhe;
  o.server_url = a.server;
  o.precision = a.precision;
  return o;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), ErrorCode::file_not_found, "cannot open text file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print_result(const EvalArgs& a, const PerplexityResult& r, const nlohmann::json& j, int bits) {
  std::printf("perplexity %.4f (fhe %s, %d-bit weights, %zu tokens, %zu predicted; windows of %zu tokens every %zu: "
              "each token scored once, with at least %zu tokens of context past the first window)\n",
              r.perplexity, a.fhe.c_str(), bits, r.n_tokens, r.n_predicted, r.window, r.stride, r.window - r.stride);
  if (j.contains("perplexity_draws")) {
    std::printf("%zu draws:", j["draws"].get<std::size_t>());
    for (double p : j["perplexity_draws"]) std::printf(" %.4f", p);
    std::printf("\nmean %.4f, standard deviation %.4f (%.3f%% of the mean); the perplexity above is the first draw's\n",
                j["perplexity_mean"].get<double>(), j["perplexity_std"].get<double>(),
                100.0 * j["perplexity_std"].get<double>() / j["perplexity_mean"].get<double>());
  }
  if (j.contains("disable_perplexity")) {
    std::printf("disable perplexity %.4f, change %+.3f%%, top-1 agreement %.2f%%\n", j["disable_perplexity"].get<double>(),
                100.0 * j["relative_change"].get<double>(), 100.0 * j["top1_agreement"].get<double>());
  }
}

// The perplexity in the client's current mode, with a progress display (tokens scored).
PerplexityResult scored(Client& client, const std::string& text, const EvalArgs& a, const std::string& fhe) {
  Progress::Options po;
  po.enabled = !global_flags().quiet;
  Progress progress("eval: tokens scored (fhe " + fhe + ")", 0, po);
  PerplexityOptions options;
  options.window = a.window;
  options.stride = a.stride;
  options.progress = progress.callback();
  PerplexityResult r = client.perplexity(text, options);
  progress.finish();
  return r;
}

// Mean and sample standard deviation.
std::pair<double, double> mean_std(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0};
}

void run_eval(const EvalArgs& a) {
  require(a.draws == 1 || a.fhe == "simulate" || a.fhe == "execute", ErrorCode::bad_command_line,
          "--draws goes with --fhe simulate or execute (disable has no error to draw)");
  apply_threads(a.threads);
  const std::string text = read_text(a.text_file);
  Client client(client_options(a));
  const PerplexityResult r = scored(client, text, a, a.fhe);
  std::vector<double> draws{r.perplexity};
  for (std::size_t d = 1; d < a.draws; ++d) {
    client.set_simulate_draw(d);  // execute: a new run draws fresh noise by itself
    draws.push_back(scored(client, text, a, a.fhe + " draw " + std::to_string(d)).perplexity);
  }
  client.set_simulate_draw(0);
  const int bits = client.model_info().weight_bits;
  nlohmann::json j = {{"fhe", a.fhe},           {"precision", a.precision},       {"perplexity", r.perplexity},
                      {"mean_nll", r.mean_nll}, {"n_tokens", r.n_tokens},         {"n_predicted", r.n_predicted},
                      {"window", r.window},     {"stride", r.stride},             {"weight_bits", bits}};
  if (a.draws > 1) {
    const auto [mean, sd] = mean_std(draws);
    j["draws"] = a.draws;
    j["perplexity_draws"] = draws;
    j["perplexity_mean"] = mean;
    j["perplexity_std"] = sd;
  }
  if (a.compare && a.fhe != "disable") {
    client.set_fhe_mode("disable");
    const PerplexityResult d = scored(client, text, a, "disable");
    std::size_t agree = 0;
    for (std::size_t i = 0; i < d.top1.size(); ++i) agree += d.top1[i] == r.top1[i];
    j["disable_perplexity"] = d.perplexity;
    j["relative_change"] = r.perplexity / d.perplexity - 1.0;
    j["top1_agreement"] = static_cast<double>(agree) / static_cast<double>(d.top1.size());
  }
  if (a.json) {
    std::puts(j.dump().c_str());
    return;
  }
  print_result(a, r, j, bits);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a text under a model");
  cmd->add_option("-m,--model", args->model, "llama2.c .bin, GGUF or Hugging Face folder (default: bundled stories260K)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or folder (default: next to the model)");
  cmd->add_option("-f,--text,--file", args->text_file, "text file to score")->required();
  cmd->add_option("--fhe", args->fhe, "disable | simulate | execute")->capture_default_str();
  cmd->add_option("--remote", args->remote, "remote modules: default (linear layers and the token embedding), all, all-linear, none, or a list")->capture_default_str();
  cmd->add_option("--precision", args->precision,
                  "encrypted product modelled by simulate: default (its rounding error) or exact (none)")
      ->capture_default_str();
  cmd->add_option("--bits", args->bits, "with --model: weight bits of the remote modules (default 8)")
      ->check(CLI::Range(2, 8));
  cmd->add_option("--artifact", args->artifact, "execute: NAME.client written by `fhellm compile` (needs --server)");
  cmd->add_option("--server", args->server, "execute: server URL (default: a server in this process)");
  cmd->add_option("-c,--window,--ctx-size", args->window, "positions per window (0 = model context, at most 1024)");
  cmd->add_option("--stride", args->stride, "positions between window starts (0 = window / 2)");
  add_threads_option(cmd, args->threads);
  cmd->add_option("--draws", args->draws,
                  "score the text K times: simulate with K independent draws of the modelled errors, execute in K "
                  "runs; print each perplexity, their mean and standard deviation")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--compare", args->compare, "also run disable; print the change and top-1 agreement");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace fhellm::cli
