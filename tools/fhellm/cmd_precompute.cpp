// fhellm precompute: the online mode's offline phase (docs/online.md). Draws
// fresh masks for every remote group, has the server multiply them under
// encryption, and stores them (with their products) encrypted under the
// client key, until each group holds --rows rows (the LM head --head-rows).
// Then `fhellm generate --online` uses them.
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "common/progress.h"
#include "fhellm/client.h"
#include "fhellm/error.h"
#include "interrupt.h"
#include "net/api_keys.h"

namespace fhellm::cli {
namespace {

struct PrecomputeArgs {
  std::string model, tokenizer, artifact, server, remote = "all-linear", online_store, client_key;
  std::string api_key, ca_cert;  // the server's API key (or FHELLM_API_KEY), HTTPS CA
  std::size_t rows = 0, batch_rows = PrecomputeOptions{}.batch_rows;
  std::int64_t head_rows = -1;  // -1: as --rows
  int bits = 0, threads = 0;
  bool json = false;
};

ClientOptions client_options(const PrecomputeArgs& a) {
  require(a.artifact.empty() || (!a.server.empty() && a.model.empty()), ErrorCode::bad_command_line,
          "--artifact NAME.client needs --server URL and no --model");
  ClientOptions o;
  o.artifact = a.artifact;
  if (a.artifact.empty()) {  // as generate: the bundled model by default
    o.model = a.model.empty() ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "stories260K.bin").string() : a.model;
    o.tokenizer = a.model.empty() && a.tokenizer.empty()
                      ? (std::filesystem::path(FHELLM_DEFAULT_MODEL_DIR) / "tok512.bin").string()
                      : a.tokenizer;
    o.remote = a.remote;
    o.weight_bits = a.bits;
  }
  o.fhe = "execute";
  o.server_url = a.server;
  o.api_key = net::api_key_from(a.api_key);
  o.ca_cert = a.ca_cert;
  o.online_store = a.online_store;
  o.client_key = a.client_key;
  return o;
}

void run_precompute(const PrecomputeArgs& a) {
  apply_threads(a.threads);
  require(a.rows >= 1 || a.head_rows >= 1, ErrorCode::bad_command_line, "precompute: give --rows N (N >= 1)");
  Client client(client_options(a));
  PrecomputeOptions o;
  o.rows = a.rows;
  o.head_rows = a.head_rows < 0 ? a.rows : static_cast<std::size_t>(a.head_rows);
  o.batch_rows = a.batch_rows;
  Progress::Options po;
  po.enabled = !global_flags().quiet && !a.json;
  Progress progress("fhellm precompute: masks", 0, po);
  // Ctrl-C: stop after the batch in progress (the stored batches stay),
  // close the session, exit 130.
  const InterruptScope interrupt;
  o.progress = [report = progress.callback()](std::uint64_t done, std::uint64_t total) {
    if (report) report(done, total);
    throw_if_interrupted();
  };
  const PrecomputeResult r = client.precompute(o);
  progress.finish();
  const double rows = static_cast<double>(std::max<std::uint64_t>(r.rows_made, 1));
  if (a.json) {
    const nlohmann::json j = {{"rows_made", r.rows_made},       {"rows_present", r.rows_present},
                              {"calls", r.calls},               {"seconds", r.seconds},
                              {"server_seconds", r.server_ms / 1e3}, {"network_seconds", r.network_ms / 1e3},
                              {"bytes_up", r.bytes_up},         {"bytes_down", r.bytes_down}};
    std::puts(j.dump().c_str());
    return;
  }
  std::printf("fhellm precompute: %llu rows made (%llu were stored), %llu encrypted calls in %.1f s "
              "(server %.1f s); %.1f MB up, %.1f MB down; per group row %.1f ms, %.1f KB\n",
              static_cast<unsigned long long>(r.rows_made), static_cast<unsigned long long>(r.rows_present),
              static_cast<unsigned long long>(r.calls), r.seconds, r.server_ms / 1e3, r.bytes_up / 1e6,
              r.bytes_down / 1e6, 1e3 * r.seconds / rows, (r.bytes_up + r.bytes_down) / 1e3 / rows);
}

}  // namespace

void register_precompute(CLI::App& app) {
  auto args = std::make_shared<PrecomputeArgs>();
  auto* cmd = app.add_subcommand("precompute", "The online mode's offline phase: masks multiplied under encryption, "
                                               "stored encrypted for `generate --online`");
  cmd->add_option("-m,--model", args->model, "llama2.c .bin, GGUF or Hugging Face folder (default: bundled stories260K)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or folder (default: next to the model)");
  cmd->add_option("--artifact", args->artifact, "NAME.client written by `fhellm compile` (needs --server)");
  cmd->add_option("--server", args->server,
                  "server URL of `fhellm serve --online` (default: a server in this process over --model)");
  cmd->add_option("--remote", args->remote, "with --model: remote linear modules")->capture_default_str();
  cmd->add_option("--bits", args->bits, "with --model: weight bits of the remote modules")->check(CLI::Range(2, 8));
  cmd->add_option("--rows", args->rows, "rows to hold per remote group: one per prompt row and per generated token")
      ->required();
  cmd->add_option("--head-rows", args->head_rows, "rows for the LM head: one per generated token (default: --rows)");
  cmd->add_option("--batch-rows", args->batch_rows, "rows per encrypted call and per stored batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 512));
  cmd->add_option("--api-key", args->api_key, "API key of the server (default: $FHELLM_API_KEY)");
  cmd->add_option("--ca-cert", args->ca_cert, "PEM CA file to trust for an https:// server");
  cmd->add_option("--online-store", args->online_store, "the material's directory (default: ~/.cache/fhellm/online)");
  cmd->add_option("--client-key", args->client_key,
                  "the key the material is stored under (default: ~/.config/fhellm/client.key, created 0600)");
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_precompute(*args); });
}

}  // namespace fhellm::cli
