// fhellm::Client: private text generation, the one entry point for programs
// that generate with fhellm (the CLI, the C API, bindings, gateways).
//
// The client holds the secret key, the tokenizer and every non-linear layer;
// the server holds the linear weights and multiplies them by encrypted
// activations (DESIGN.md). The server is another process reached by URL (open
// a client artifact), or runs inside this process (open a model). Shaped like
// Concrete ML's HybridFHEModel: choose the remote modules and the FHE mode,
// then generate or score text.
//
//   fhellm::ClientOptions o;
//   o.artifact = "gpt2.client";               // from `fhellm compile`
//   o.server_url = "http://127.0.0.1:8600";   // `fhellm serve --artifact gpt2.server`
//   fhellm::Client client(o);
//   fhellm::GenerateOptions g;
//   g.max_tokens = 32;
//   client.generate("Programming is", g, [](std::string_view piece) {
//     std::fwrite(piece.data(), 1, piece.size(), stdout);
//     return true;  // false stops the generation after this token
//   });
//   std::printf("%.1f ms/token\n", client.last_stats().decode_ms_per_token);
//
// Errors: the plain functions throw fhellm::Error (error.h); each has a try_*
// twin that returns a Status and throws nothing. One Client per user: not
// thread-safe, except cancel(), tokenize() and model_info(), which any thread
// may call, also while another generates. new_session() opens another Client
// over the same loaded model for another user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fhellm/error.h"
#include "fhellm/status.h"

namespace fhellm {

struct ClientOptions {
  // The model: exactly one of
  std::string artifact;  // NAME.client written by `fhellm compile` (needs server_url and fhe "execute")
  std::string model;     // a llama2.c .bin, a Hugging Face folder or a GGUF file (every weight on this machine)
  std::string tokenizer;  // with `model`: a tokenizer file or folder (empty: found next to the model)
  // "disable" (float, in clear), "simulate" (the integers of execute, in
  // clear) or "execute" (encrypted; the server multiplies).
  std::string fhe = "execute";
  // execute: the server, http://HOST:PORT or https://...; empty: a server in
  // this process over `model`'s weights.
  std::string server_url;
  // Remote modules, with `model`: "default" (every linear layer and the token
  // embedding, looked up on the server under encryption), "all" (the
  // position table too), "all-linear", "none", or a comma list of tables
  // ("embedding", "positions"), kinds ("qkv", "attn_out", "mlp_up",
  // "mlp_down", "lm_head"), layers ("layers.3") or groups ("layers.3.qkv").
  // An artifact fixes its own.
  std::string remote = "default";
  // With `model`: the remote modules' weight bits, 2..8 (0: 8). An artifact
  // was compiled at its own bits.
  int weight_bits = 0;
  // The encrypted product's precision, which simulate models: "default"
  // (errors below 2^-16 of a layer's range; simulate draws the same error) or
  // "exact" (every bit, each row evaluated twice over the same weight
  // encoding: ~1.5x the time, docs/linear.md section 2c).
  std::string precision = "default";
  // simulate: which draw of the modelled errors (0, the default, or any
  // other number for errors independent of it, as another execute run makes).
  std::uint64_t simulate_draw = 0;
  double timeout_seconds = 120;  // execute: per exchange with the server
  // execute: the server's API key, sent as "Authorization: Bearer KEY" (empty:
  // none; the CLI takes --api-key or FHELLM_API_KEY), and a PEM CA file to
  // trust for an https:// server besides the system's.
  std::string api_key;
  std::string ca_cert;
  // execute, online mode (docs/online.md): each remote row uses a mask
  // precomputed by precompute() and is multiplied in clear by the server
  // (`fhellm serve --online`), exactly (the integers of simulate at exact
  // precision); rows without stored material go through the encrypted path
  // (counted in ClientStats::fallback_rows).
  bool online = false;
  // Where the material is stored, encrypted under a key derived from the
  // client key (empty: $XDG_CACHE_HOME/fhellm/online or ~/.cache/fhellm/online;
  // $XDG_CONFIG_HOME/fhellm/client.key or ~/.config/fhellm/client.key,
  // created on first use, mode 0600). Used by online generation and by precompute().
  std::string online_store;
  std::string client_key;
};

// Client::precompute: the online mode's offline phase.
struct PrecomputeOptions {
  std::size_t rows = 0;        // rows to hold per remote group (each prompt row and generated token uses one)
  std::size_t head_rows = 0;   // rows for the LM head (one per generated token)
  std::size_t batch_rows = 64;  // rows per encrypted call and per stored batch, 1..512
  // Called after each batch: (rows made, rows to make).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
  // Asked before each batch (the groups take a batch each in turn): true
  // ends the run there, the batches made staying stored. A background
  // top-up stops this way when a request comes (`fhellm gateway --online`).
  std::function<bool()> stop;
};

struct PrecomputeResult {
  std::uint64_t rows_made = 0;     // rows of every group together
  std::uint64_t rows_present = 0;  // rows that were stored already
  std::uint64_t calls = 0;         // encrypted calls (two per batch)
  double seconds = 0;
  double server_ms = 0, network_ms = 0;
  std::uint64_t bytes_up = 0, bytes_down = 0;
};

// GenerateOptions::max_tokens: generate until the end of text or of the context.
inline constexpr std::size_t kUntilContextEnd = std::numeric_limits<std::size_t>::max();

struct GenerateOptions {
  std::size_t max_tokens = 64;  // at most (kUntilContextEnd: as many as the context leaves)
  // Positions the prompt and the generated tokens may fill: 0 for the
  // model's context, else at most that (llama.cpp's --ctx-size).
  std::size_t context_size = 0;
  float temperature = 0.0f;  // 0: greedy
  float top_p = 1.0f;        // nucleus sampling mass, (0, 1]
  std::size_t top_k = 0;     // keep the k most likely (0: all)
  float min_p = 0.0f;        // drop tokens below min_p times the most likely's probability, [0, 1] (0: off)
  // llama.cpp's repeat penalty: the logit of each id among the last
  // repeat_last_n ids of the context (prompt included) is divided by it when
  // positive, multiplied when negative (1: off; > 0).
  float repeat_penalty = 1.0f;
  std::size_t repeat_last_n = 64;
  std::uint64_t seed = 0;    // sampling seed
  bool stop_at_eos = true;   // stop at the model's end of text
  // Stop strings: the generation ends after the token that completes one of
  // them; the string and what follows it are left out of the text. Text that
  // may begin one is held back from on_text until the next token decides.
  std::vector<std::string> stop;
  // Called after each linear group of the prompt's forward pass, the wait
  // before the first token: (groups done, groups in the pass), in forward
  // order (per layer qkv, attention out, MLP up, MLP down; then the LM head).
  std::function<void(std::uint64_t, std::uint64_t)> prompt_progress;
  // Keeps this generation's KV cache for the next generate of this Client,
  // which then runs only the part of its prompt after the prefix the two
  // share (the prompt's last id always runs): a conversation's next turn
  // repeats its history and computes the new message only (llama.cpp's
  // cache_prompt). The kept positions were computed by the earlier call,
  // with its own encrypted rounding at the default precision, so the result
  // is not bit for bit that of a fresh prefill. Changing the mode, the
  // remote set, the precision or the quantization drops the cache.
  bool reuse_prefix = false;
};

// Called with each piece of text as soon as it is decoded (valid UTF-8, never
// empty); return false to stop the generation after this token.
using TextCallback = std::function<bool(std::string_view piece)>;

struct GenerateResult {
  std::string text;                     // the generated text (prompt excluded)
  std::vector<std::int32_t> ids;        // generated token ids
  std::vector<std::int32_t> prompt_ids;  // the prompt as the model saw it (BOS included where the model uses one)
  std::size_t cached_prompt_tokens = 0;  // of them, taken from the previous generation's cache (reuse_prefix)
  bool stopped_at_eos = false;
  bool cancelled = false;  // stopped by the callback or cancel()
  std::string stop;        // the stop string that ended the generation ("" when none did)
};

struct PerplexityOptions {
  // Overlapping windows, as llama-perplexity and transformers' strided
  // evaluation: windows of `window` positions (0: the model's context, at
  // most 1024) start every `stride` positions (0: window / 2); each token is
  // scored once, in the first window that predicts it. stride = window - 1
  // is the non-overlapping split.
  std::size_t window = 0;
  std::size_t stride = 0;
  // Called as tokens are scored: (tokens scored, tokens to score).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct PerplexityResult {
  double perplexity = 0;
  double mean_nll = 0;  // nats per predicted token
  std::size_t n_tokens = 0;     // tokens of the text
  std::size_t n_predicted = 0;  // tokens scored (n_tokens - 1 per window)
  std::vector<std::int32_t> top1;  // the most likely id at each scored position (top-1 agreement between modes)
  std::size_t window = 0, stride = 0;  // the windows the text was scored in
};

// Figures of the last generate or perplexity call. Times in milliseconds.
struct ClientStats {
  std::size_t n_prompt_tokens = 0;
  std::size_t n_cached_prompt_tokens = 0;  // of them, reused from the previous generation (no row computed)
  std::size_t n_generated_tokens = 0;
  double total_ms = 0;             // prefill + decode
  double prefill_ms = 0;           // the prompt's forward pass, first token included
  double decode_ms = 0;            // every later token
  double ttft_ms = 0;              // time to first token (= prefill_ms)
  double prefill_ms_per_row = 0;   // prefill_ms / the prompt rows computed (n_prompt_tokens - n_cached_prompt_tokens)
  double decode_ms_per_token = 0;  // decode_ms / (n_generated_tokens - 1)
  double tokens_per_second = 0;    // n_generated_tokens / total_ms
  std::uint64_t remote_calls = 0;  // calls of the remote linear modules
  double remote_ms = 0;            // time inside those calls (all modes)
  // execute only (0 otherwise):
  double server_ms = 0;            // the server's encrypted products
  double network_ms = 0;           // round trips minus server time
  double client_ms = 0;            // total_ms - server_ms - network_ms
  double crypto_ms = 0;            // of client_ms: quantize, encrypt, decrypt, dequantize
  std::uint64_t bytes_up = 0;      // linear-call requests, wire framing included
  std::uint64_t bytes_down = 0;    // linear-call replies
  // The same apart for the prompt (prefill, up to the first token) and the
  // later tokens (decode): what a user waits for first, then per token.
  double prefill_server_ms = 0, prefill_network_ms = 0;
  std::uint64_t prefill_bytes_up = 0, prefill_bytes_down = 0;
  double decode_server_ms = 0, decode_network_ms = 0;
  std::uint64_t decode_bytes_up = 0, decode_bytes_down = 0;
  // online mode: rows that went through the online path, and rows that
  // lacked stored material and went through the encrypted path.
  std::uint64_t online_rows = 0, fallback_rows = 0;
  // The session the call ran in (opened on the first execute call, then reused):
  std::uint64_t session_key_bytes = 0;  // the evaluation keys uploaded once
  std::uint64_t key_bytes_up = 0;       // those keys when this call opened the session, else 0
  double session_open_ms = 0;           // key generation + upload + the server's description
};

struct ClientModelInfo {
  std::string architecture;  // "gpt2", "llama"
  std::size_t n_layers = 0;
  std::size_t context = 0;     // positions
  std::size_t vocab_size = 0;
  std::int32_t bos_id = -1;    // the tokenizer's beginning and end of text (-1: none)
  std::int32_t eos_id = -1;
  std::size_t n_remote_modules = 0;  // linear modules the server computes in execute
  int weight_bits = 0;               // of the remote modules' weights
  std::string fhe;             // the current mode
};

class Client {
 public:
  // Loads the model or artifact and its tokenizer; an execute session opens
  // on the first call that needs it.
  // @throws Error(invalid_argument) for inconsistent options, the loaders'
  //         errors (file_not_found, bad_artifact, ...), Error(bad_mode)
  explicit Client(const ClientOptions& options);
  ~Client();  // closes the server session
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // Never throws: null and `status` set on failure.
  static std::unique_ptr<Client> try_open(const ClientOptions& options, Status& status) noexcept;

  // Generates from `prompt` (encoded as tokenize(prompt) does), calling
  // on_text with each piece of text.
  // @throws Error(context_overflow) when the prompt plus max_tokens exceed
  //         the context (options.context_size or the model's),
  //         Error(invalid_argument) for a context_size above the model's or
  //         bad sampling options, the server's and transport's errors
  //         (server_unavailable, remote_error, ...); an exception thrown by
  //         on_text propagates
  GenerateResult generate(const std::string& prompt, const GenerateOptions& options = {},
                          const TextCallback& on_text = {});
  Status try_generate(const std::string& prompt, const GenerateOptions& options, const TextCallback& on_text,
                      GenerateResult& result) noexcept;

  // Generates from prompt ids as given (nothing added): a chat template's
  // text, whose special tokens (BOS, EOS) the caller mapped to their ids.
  // @throws as generate, and Error(invalid_argument) for no ids,
  //         Error(unknown_token) for an id outside the vocabulary
  GenerateResult generate_from_ids(std::span<const std::int32_t> prompt_ids, const GenerateOptions& options = {},
                                   const TextCallback& on_text = {});
  Status try_generate_from_ids(std::span<const std::int32_t> prompt_ids, const GenerateOptions& options,
                               const TextCallback& on_text, GenerateResult& result) noexcept;

  // The ids of `text`. add_special: as generate(text) sees it (the model's
  // BOS first where it uses one; an empty text is the BOS, or EOS); false:
  // the text's own ids, nothing added (an empty text has none).
  std::vector<std::int32_t> tokenize(const std::string& text, bool add_special = true) const;

  // A Client over this one's model, tokenizer and options, with a session,
  // figures and cancel() of its own: several users served at once, one
  // Client each, without loading the model again. The weights are shared
  // read-only, and so is a server in this process (built once per remote
  // set and precision).
  Client new_session() const;

  // In execute, opens the server session now (evaluation keys made and
  // uploaded: 6.9 MB and ~0.1 s on loopback for the GPT-2 124M shape), so
  // that the first generate does not wait for it; nothing in disable and
  // simulate, nor when the session is open. A session the server has since
  // dropped (idle timeout) is opened again by the next call.
  // @throws the server's and transport's errors (server_unavailable, unauthorized, ...)
  void prepare();
  Status try_prepare() noexcept;

  // Stops a generate in progress (from any thread) after its current token.
  void cancel() noexcept;

  // Perplexity of `text` under the model in the current mode.
  // @throws Error(invalid_argument) for a text of fewer than 2 tokens or a
  //         stride outside [1, window - 1]
  PerplexityResult perplexity(const std::string& text, const PerplexityOptions& options = {});
  Status try_perplexity(const std::string& text, const PerplexityOptions& options, PerplexityResult& result) noexcept;

  // The online mode's offline phase (docs/online.md): fresh masks for every
  // remote group, multiplied by the server under encryption, stored at
  // options.online_store under the client key. Tops each group up to
  // options.rows (the LM head to head_rows). Needs execute (a server URL, or
  // the model with the server in this process). The first call opens a
  // session of its own on the server, which later calls reuse (its keys go
  // up once) until this Client is destroyed or a call fails.
  // @throws Error(bad_mode) outside execute, Error(online_not_served) for a
  //         server without `--online`, the server's, transport's and store's errors
  PrecomputeResult precompute(const PrecomputeOptions& options);
  Status try_precompute(const PrecomputeOptions& options, PrecomputeResult& result) noexcept;

  // Switches the FHE mode ("disable", "simulate", "execute"); the next call
  // uses it. @throws Error(bad_mode), Error(invalid_argument) for a mode that
  // cannot run this model (a client artifact holds no remote weights: only execute)
  void set_fhe_mode(const std::string& fhe);

  // Switches simulate's error draw (ClientOptions::simulate_draw); the next
  // simulate call uses it. No effect on disable and execute.
  void set_simulate_draw(std::uint64_t draw);

  // Switches the remote linear modules (the syntax of ClientOptions::remote);
  // the next call uses them. @throws Error(unknown_layer) for an entry that
  // matches nothing, Error(invalid_argument) for a client artifact (its
  // remote set is fixed) or a module whose weights are not on this machine
  void set_remote_modules(const std::string& spec);

  // The logits of every position of `ids` ([ids.size(), vocab], row-major)
  // in the current mode: one forward pass from position 0 (a prefill), as
  // perplexity computes them.
  // @throws Error(invalid_argument) for no ids, Error(context_overflow) for
  //         more than the model's context, Error(unknown_token) for an id
  //         outside the vocabulary, the server's and transport's errors
  std::vector<float> logits(const std::vector<std::int32_t>& ids);

  // Writes out_prefix.server (the remote modules' int8 weights) and
  // out_prefix.client (the rest and the tokenizer), as `fhellm compile`
  // does, for this client's model and remote modules at `weight_bits`.
  // @throws Error(invalid_argument) for a client opened from an artifact
  //         (it holds no remote weight), Error(bad_quantization) for bits
  //         outside 2..8, Error(io_error) when a file cannot be written
  struct CompileResult {
    std::string server_path, client_path;
    std::uint64_t server_bytes = 0, client_bytes = 0;
    std::size_t n_remote = 0;  // remote layer groups
  };
  CompileResult compile(const std::string& out_prefix, int weight_bits = 8) const;

  const ClientStats& last_stats() const noexcept;
  // The ids whose KV cache a reuse_prefix generation left (prompt, then the
  // answer's ids fed back): what the next one can take; empty without it.
  // Valid until the next generate or setting change.
  std::span<const std::int32_t> cached_ids() const noexcept;
  ClientModelInfo model_info() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  GenerateResult run_generation(std::vector<std::int32_t> prompt_ids, const GenerateOptions& options,
                                const TextCallback& on_text);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fhellm
