// fhellm eval: perplexity of a text file under a model, in one FHE mode or
// (--compare) also in disable, with the top-1 agreement between the two.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fhellm/client.h"
#include "fhellm/error.h"

namespace fhellm::cli {
namespace {

struct EvalArgs {
  std::string model, tokenizer, text_file, fhe = "simulate", remote = "all-linear", precision = "default";
  std::size_t window = 0;
  bool compare = false, json = false;
};

void run_eval(const EvalArgs& a) {
  ClientOptions o;  // default: the model bundled in the repository
  o.model = a.model.empty() ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin").string() : a.model;
  o.tokenizer = a.model.empty() && a.tokenizer.empty()
                    ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin").string()
                    : a.tokenizer;
  o.remote = a.remote;
  o.precision = a.precision;
  o.fhe = a.fhe;
  std::ifstream in(a.text_file, std::ios::binary);
  require(in.good(), ErrorCode::file_not_found, "cannot open text file '" + a.text_file + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  Client client(o);
  const PerplexityResult r = client.perplexity(text, a.window);
  nlohmann::json j = {{"fhe", a.fhe}, {"precision", a.precision}, {"perplexity", r.perplexity},
                      {"mean_nll", r.mean_nll}, {"n_tokens", r.n_tokens}, {"n_predicted", r.n_predicted}};
  if (a.compare && a.fhe != "disable") {
    client.set_fhe_mode("disable");
    const PerplexityResult d = client.perplexity(text, a.window);
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
  std::printf("perplexity %.4f (fhe %s, %zu tokens, %zu predicted)\n", r.perplexity, a.fhe.c_str(), r.n_tokens,
              r.n_predicted);
  if (j.contains("disable_perplexity")) {
    std::printf("disable perplexity %.4f, change %+.3f%%, top-1 agreement %.2f%%\n", j["disable_perplexity"].get<double>(),
                100.0 * j["relative_change"].get<double>(), 100.0 * j["top1_agreement"].get<double>());
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a text under a model");
  cmd->add_option("--model", args->model, "llama2.c .bin or Hugging Face folder (default: bundled stories260K)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or folder (default: next to the model)");
  cmd->add_option("--text", args->text_file, "text file to score")->required();
  cmd->add_option("--fhe", args->fhe, "disable | simulate | execute")->capture_default_str();
  cmd->add_option("--remote", args->remote, "remote linear modules")->capture_default_str();
  cmd->add_option("--precision", args->precision,
                  "encrypted product modelled by simulate: default (its rounding error) or exact (none)")
      ->capture_default_str();
  cmd->add_option("--window", args->window, "positions per window (0 = model context, at most 1024)");
  cmd->add_flag("--compare", args->compare, "also run disable; print the change and top-1 agreement");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace fhellm::cli
