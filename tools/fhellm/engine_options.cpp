#include "engine_options.h"

namespace fhellm::cli {

void add_engine_options(CLI::App* cmd, ChatEngineOptions& e, const std::string& prompt_cache_help) {
  cmd->add_option("-m,--model", e.model, "llama2.c .bin, GGUF or Hugging Face folder (default: bundled stories260K)");
  cmd->add_option("--tokenizer", e.tokenizer, "tokenizer file or folder (default: next to the model)");
  cmd->add_option("--artifact", e.artifact, "NAME.client written by `fhellm compile` (needs --server)");
  cmd->add_option("--server", e.server, "fhellm server URL (default: a server in this process)");
  cmd->add_option("--fhe", e.fhe, "disable | simulate | execute")->capture_default_str();
  cmd->add_option("--remote", e.remote, "with --model: remote modules (default: every linear layer and the token embedding)")
      ->capture_default_str();
  cmd->add_option("--precision", e.precision, "encrypted product precision: default or exact")->capture_default_str();
  cmd->add_option("--chat-template", e.chat_template,
                  "a built-in template name (llama3, llama3.2, llama2, mistral, mistral-v0.3, gemma, qwen2.5, chatml, "
                  "tinyllama) or a file (.jinja text or tokenizer_config.json); default: the model's, else chatml");
  cmd->add_flag_callback("--no-prompt-cache", [&e] { e.prompt_cache = false; }, prompt_cache_help);
  cmd->add_option("--api-key", e.api_key, "execute: API key of the server (default: $FHELLM_API_KEY)");
  cmd->add_option("--ca-cert", e.ca_cert, "execute: PEM CA file to trust for an https:// server");
  cmd->add_flag("--online", e.online,
                "execute: use masks precomputed by `fhellm precompute` or --precompute-rows (clear products on a "
                "`serve --online` server, exact); rows without material go encrypted");
  cmd->add_option("--online-store", e.online_store, "online: the material's directory (default: ~/.cache/fhellm/online)");
  cmd->add_option("--client-key", e.client_key,
                  "online: the key the material is stored under (default: ~/.config/fhellm/client.key, created 0600)");
  cmd->add_option("--precompute-rows", e.precompute_rows,
                  "online: while no request runs, keep every remote group topped up to N rows (one per prompt or "
                  "generated token), stopping between batches when a request comes (default 0: off)");
  cmd->add_option("--precompute-head-rows", e.precompute_head_rows,
                  "online: the LM head's rows for --precompute-rows (one per generated token; default: the same N)");
}

}  // namespace fhellm::cli
