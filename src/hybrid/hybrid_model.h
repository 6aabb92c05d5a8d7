// HybridModel: the client-side API, shaped like Concrete ML's
// HybridFHEModel. Load a model, choose which linear modules run remotely
// (default: all, LM head included), choose quantization and the FHE mode,
// then generate or evaluate. The embedding tables are modules too: a remote
// table is looked up on the server under encryption (docs/embedding.md).
//
//   auto hm = HybridModel::load("models/stories260K.bin");
//   hm.set_remote_modules("default");   // or "all-linear", "all", "embedding,qkv,lm_head", "layers.0", "none"
//   hm.set_mode(FheMode::simulate);
//   auto r = hm.generate(prompt_ids, 64, {.temperature = 0});
//
// Modules that are not remote run as clear float products on the client.
// Not thread-safe: one HybridModel per user (the Model inside is shared).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "he/linear_layout.h"
#include "hybrid/linear_backend.h"
#include "hybrid/simulate_backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/session.h"
#include "common/progress.h"
#include "quant/quantize.h"

namespace fhellm::hybrid {

struct GenerateOptions {
  model::SamplerOptions sampling;
  bool stop_at_eos = true;  // stop at the model's EOS (or a new BOS)
  // When set, generation stops after the token during which it becomes true
  // (another thread may set it: Client::cancel).
  const std::atomic<bool>* stop = nullptr;
  // When set, called after each linear group of the prompt's forward pass
  // with (groups done, groups in a pass: Model::linear_ids()), in forward
  // order; not during decoding. A long prompt waits on this pass.
  ProgressCallback prompt_progress;
  // Keeps the KV cache of this generation for the next, which then computes
  // only the part of its prompt after the longest prefix the two share (the
  // last prompt id always runs: its logits give the first token). A
  // conversation's next turn repeats the history: it runs the new message
  // only. The cached positions were computed by earlier calls (with their
  // own encrypted rounding at the default precision), so a run that reuses
  // them is not bit for bit one that does not. llama.cpp's cache_prompt.
  bool reuse_prefix = false;
};

struct GenerationResult {
  std::vector<TokenId> ids;           // generated ids (prompt excluded)
  std::size_t n_prompt = 0;
  std::size_t n_cached = 0;           // prompt ids whose KV came from the previous generation (reuse_prefix)
  double prefill_seconds = 0.0;       // the prompt's forward pass, first token included
  double decode_seconds = 0.0;        // every later token
  bool stopped_at_eos = false;
  bool stopped = false;               // by GenerateOptions::stop
  LinearStats remote;                 // calls of the remote modules
  double tokens_per_second() const;   // generated / (prefill + decode)
};

struct EvalResult {
  std::size_t window = 0, stride = 0;  // the windows the text was scored in
  double perplexity = 0.0;
  double mean_nll = 0.0;      // nats per predicted token
  std::size_t n_predicted = 0;
  std::vector<TokenId> top1;  // argmax at each predicted position (for top-1 agreement between modes)
  LinearStats remote;         // calls of the remote modules
};

// Every module of `model`: its tables (embedding_ids), then its linear groups.
std::vector<LinearId> all_modules(const model::Model& model);
// The default remote set: the token table and every linear group.
std::vector<LinearId> default_remote_modules(const model::Model& model);

class HybridModel {
 public:
  // @throws Error(bad_config) for a null model
  explicit HybridModel(std::shared_ptr<const model::Model> model);
  // Loads with model::load_model. @throws as load_model
  static HybridModel load(const std::filesystem::path& path);
  HybridModel(HybridModel&&) noexcept;
  HybridModel& operator=(HybridModel&&) noexcept;
  ~HybridModel();

  const model::Model& model() const { return *model_; }
  std::shared_ptr<const model::Model> shared_model() const { return model_; }

  // Remote modules. Spec: "default" (every matrix whose size grows with the
  // vocabulary, i.e. the token table, and every linear group: the client
  // keeps norms, biases and the small position table), "all" (the position
  // table too), "none", or a comma list of "all-linear", tables
  // ("embedding" = "token_embedding", "positions" = "position_embedding"),
  // kinds ("qkv", "attn_out", "mlp_up", "mlp_down", "lm_head"), layers
  // ("layers.3") or groups ("layers.3.qkv").
  // @throws Error(unknown_layer) naming an entry that matches nothing,
  //         Error(invalid_argument) naming a group whose weights the model
  //         does not hold (model().absent_linears()) left out of the set, or
  //         any such group while the mode is not execute; nothing changes then
  void set_remote_modules(const std::string& spec);
  void set_remote_modules(std::vector<LinearId> ids);
  const std::vector<LinearId>& remote_modules() const { return remote_; }
  bool is_remote(LinearId id) const;

  // @throws Error(bad_quantization)
  void set_quantization(quant::QuantOptions options);
  const quant::QuantOptions& quantization() const { return quant_; }

  // Precision of the encrypted product: what execute asks the server for and
  // what simulate models (the default precision's rounding error, none in
  // exact). Default: he::kLinearDefaultPrecision.
  void set_precision(he::LinearPrecision precision);
  he::LinearPrecision precision() const { return precision_; }

  // Which of simulate's error draws (SimulateBackend): 0, the default, or
  // any other number for errors independent of it.
  void set_simulate_draw(std::uint64_t draw);
  std::uint64_t simulate_draw() const { return simulate_draw_; }

  // Chooses the mode; the backend is built on first use. A model that lacks
  // some weights (a client artifact's) starts in execute, the only mode that
  // can run it, and only while every absent group is remote.
  // @throws Error(bad_mode) for a mode with no backend (execute before it is registered),
  //         Error(invalid_argument) naming an absent group that the mode
  //         would compute on the client (disable, simulate, or a local group)
  void set_mode(FheMode mode);
  FheMode mode() const { return mode_; }

  using BackendFactory = std::function<std::unique_ptr<LinearBackend>(HybridModel&)>;
  // Registers (or replaces) the backend of a mode: the hook of execute.
  void set_backend_factory(FheMode mode, BackendFactory factory);

  // Builds the mode's backend and lets it do now what its first call would
  // wait for: execute opens its server session (LinearBackend::prepare).
  // @throws the backend's errors (the server's, the transport's)
  void prepare() { backend().prepare(); }

  // Drops the mode's backend (an execute backend closes its server session);
  // the next generate, perplexity or linear_ops builds a new one. The mode,
  // remote set and quantization stay.
  void release_backend() { invalidate(); }

  // The remote modules' int8 weights (built once per remote set and options).
  std::shared_ptr<const QuantizedLinears> quantized_linears();

  // The routing seams a Session runs through (remote ids -> backend, others
  // -> float). Valid until the next set_* call.
  model::LinearOps& linear_ops();
  model::EmbeddingOps& embedding_ops();

  // Prefills the prompt, then samples up to n_tokens; on_token sees each id
  // as it is chosen. @throws Error(context_overflow, unknown_token, ...)
  GenerationResult generate(std::span<const TokenId> prompt, std::size_t n_tokens, const GenerateOptions& options = {},
                            const std::function<void(TokenId)>& on_token = {});
  // The ids whose KV the kept cache holds (GenerateOptions::reuse_prefix;
  // empty without one): what the next such generation can share.
  std::span<const TokenId> cached_ids() const noexcept { return kept_ids_; }

  // Perplexity of `ids` (ids[0] is context only) in overlapping windows, as
  // llama-perplexity and transformers' strided evaluation do: windows of
  // `window` positions (0 = the model's context, capped at 1024) start every
  // `stride` positions (0 = window / 2); each id is scored once, in the first
  // window that predicts it, so every scored id past the first window has at
  // least window - stride ids of context. stride = window - 1 is the
  // non-overlapping split.
  // @throws Error(invalid_argument) for fewer than 2 ids, or a stride outside [1, window - 1]
  // `progress` (optional) hears (ids scored, ids to score) after each window.
  EvalResult perplexity(std::span<const TokenId> ids, std::size_t window = 0, std::size_t stride = 0,
                        const ProgressCallback& progress = {});

  // The logits of every position of `ids` ([ids.size(), vocab]): one prefill
  // from position 0 in a fresh session.
  // @throws Error(invalid_argument) for no ids, Error(context_overflow), Error(unknown_token)
  std::vector<float> logits(std::span<const TokenId> ids);

 private:
  class Router;
  void invalidate();
  // @throws Error(invalid_argument) as set_mode and set_remote_modules
  void check_runnable(FheMode mode, const std::vector<LinearId>& remote) const;
  LinearBackend& backend();

  std::shared_ptr<const model::Model> model_;
  std::vector<LinearId> remote_;
  quant::QuantOptions quant_;
  he::LinearPrecision precision_ = he::kLinearDefaultPrecision;
  std::uint64_t simulate_draw_ = 0;
  FheMode mode_ = FheMode::simulate;
  std::map<FheMode, BackendFactory> factories_;
  std::shared_ptr<const QuantizedLinears> quantized_;
  std::unique_ptr<LinearBackend> backend_;
  std::unique_ptr<Router> router_;
  // The last generation's KV cache (bound to router_) and the ids at its
  // positions, for GenerateOptions::reuse_prefix; invalidate() and a
  // generation that throws drop it.
  std::unique_ptr<model::Session> kept_session_;
  std::vector<TokenId> kept_ids_;
};

}  // namespace fhellm::hybrid
