#include "hybrid/hybrid_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "hybrid/disable_backend.h"
#include "model/loader.h"

namespace fhellm::hybrid {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

}  // namespace

// Sends the remote groups and tables to the mode's backend and the rest to
// the float product and the model's float tables.
class HybridModel::Router final : public model::LinearOps, public model::EmbeddingOps {
 public:
  Router(const model::Model& model, LinearBackend& backend, const std::vector<LinearId>& remote)
      : float_(model), tables_(model), backend_(backend), n_layers_(model.config().n_layers),
        remote_(model::linear_slot_count(n_layers_), false) {
    for (LinearId id : remote) remote_[slot(id)] = true;
  }
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override {
    if (remote_[slot(id)]) {
      backend_.apply(id, x, rows, y);
    } else {
      float_.apply(id, x, rows, y);
    }
  }
  void lookup(LinearId table, std::span<const TokenId> ids, float* out) override {
    if (remote_[slot(table)]) {
      backend_.lookup(table, ids, out);
    } else {
      tables_.lookup(table, ids, out);
    }
  }

 private:
  std::size_t slot(LinearId id) const { return model::linear_slot(id, n_layers_); }
  model::FloatLinear float_;
  model::FloatEmbedding tables_;
  LinearBackend& backend_;
  std::size_t n_layers_;
  std::vector<bool> remote_;
};

HybridModel::HybridModel(std::shared_ptr<const model::Model> model) : model_(std::move(model)) {
  require(model_ != nullptr, ErrorCode::bad_config, "HybridModel: no model");
  remote_ = default_remote_modules(*model_);
  // Only execute can run a model without some weights (a client artifact's);
  // its backend is registered later (use_execute), and checked on first use.
  if (!model_->absent_linears().empty()) mode_ = FheMode::execute;
  factories_[FheMode::disable] = [](HybridModel& hm) { return std::make_unique<DisableBackend>(hm.model()); };
  factories_[FheMode::simulate] = [](HybridModel& hm) {
    return std::make_unique<SimulateBackend>(hm.model(), hm.quantized_linears(), hm.precision(), hm.simulate_draw());
  };
}

HybridModel HybridModel::load(const std::filesystem::path& path) { return HybridModel(model::load_model(path)); }
HybridModel::HybridModel(HybridModel&&) noexcept = default;
HybridModel& HybridModel::operator=(HybridModel&&) noexcept = default;
HybridModel::~HybridModel() = default;

void HybridModel::invalidate() {
  kept_session_.reset();  // bound to the router
  kept_ids_.clear();
  router_.reset();
  backend_.reset();
}

// Refuses a mode and remote set that would run a product locally on a weight
// the model does not hold: disable and simulate need every remote weight on
// the client (float product, quantization), every mode needs the local ones.
void HybridModel::check_runnable(FheMode mode, const std::vector<LinearId>& remote) const {
  for (LinearId id : model_->absent_linears()) {
    const std::string name = model::linear_name(id);
    require(mode == FheMode::execute, ErrorCode::invalid_argument,
            "fhe mode '" + std::string(fhe_mode_name(mode)) + "' would compute " + name +
                " on the client, which does not hold its weights (a client artifact's model: only execute runs it)");
    require(std::find(remote.begin(), remote.end(), id) != remote.end(), ErrorCode::invalid_argument,
            name + " cannot run locally: the model does not hold its weights (a client artifact's model); keep it "
                   "in the remote modules");
  }
}

void HybridModel::set_remote_modules(std::vector<LinearId> ids) {
  for (LinearId id : ids) model_->linear(id);  // @throws unknown_layer
  const auto all = all_modules(*model_);
  // Keep forward order, drop duplicates.
  std::vector<LinearId> ordered;
  for (LinearId id : all)
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) ordered.push_back(id);
  check_runnable(mode_, ordered);
  remote_ = std::move(ordered);
  quantized_.reset();
  invalidate();
}

void HybridModel::set_remote_modules(const std::string& spec) {
  const auto all = all_modules(*model_);
  if (spec.empty() || spec == "default") return set_remote_modules(default_remote_modules(*model_));
  if (spec == "all") return set_remote_modules(all);
  if (spec == "none") return set_remote_modules(std::vector<LinearId>{});
  std::vector<LinearId> chosen;
  for (std::string item : split_commas(spec)) {
    if (item == "all-linear") {
      const auto linear = model_->linear_ids();
      chosen.insert(chosen.end(), linear.begin(), linear.end());
      continue;
    }
    if (item == "embedding") item = "token_embedding";
    if (item == "positions") item = "position_embedding";
    bool matched = false;
    for (LinearId id : all) {
      const std::string name = model::linear_name(id);
      const std::string kind = name.substr(name.rfind('.') + 1);
      // "qkv" matches every layer's; "layers.3" every group of layer 3; "layers.3.qkv" one.
      if (item == name || item == kind || name.rfind(item + ".", 0) == 0) {
        chosen.push_back(id);
        matched = true;
      }
    }
    require(matched, ErrorCode::unknown_layer,
            "remote module '" + item + "' matches no module of this model (e.g. default, all, all-linear, none, "
            "embedding, positions, qkv, attn_out, mlp_up, mlp_down, lm_head, layers.0, layers.0.qkv)");
  }
  set_remote_modules(std::move(chosen));
}

std::vector<LinearId> all_modules(const model::Model& model) {
  std::vector<LinearId> ids = model.embedding_ids();
  const auto linear = model.linear_ids();
  ids.insert(ids.end(), linear.begin(), linear.end());
  return ids;
}

std::vector<LinearId> default_remote_modules(const model::Model& model) {
  std::vector<LinearId> ids{{-1, LinearKind::token_embedding}};
  const auto linear = model.linear_ids();
  ids.insert(ids.end(), linear.begin(), linear.end());
  return ids;
}

bool HybridModel::is_remote(LinearId id) const { return std::find(remote_.begin(), remote_.end(), id) != remote_.end(); }

void HybridModel::set_precision(he::LinearPrecision precision) {
  if (precision == precision_) return;
  precision_ = precision;
  invalidate();
}

void HybridModel::set_simulate_draw(std::uint64_t draw) {
  if (draw == simulate_draw_) return;
  simulate_draw_ = draw;
  if (mode_ == FheMode::simulate) invalidate();  // other modes' backends draw nothing: keep them (a session)
}

void HybridModel::set_quantization(quant::QuantOptions options) {
  options.validate();
  quant_ = options;
  quantized_.reset();
  invalidate();
}

void HybridModel::set_mode(FheMode mode) {
  require(factories_.count(mode) != 0, ErrorCode::bad_mode,
          "fhe mode '" + std::string(fhe_mode_name(mode)) + "' is not available in this build");
  check_runnable(mode, remote_);
  if (mode != mode_) invalidate();
  mode_ = mode;
}

void HybridModel::set_backend_factory(FheMode mode, BackendFactory factory) {
  factories_[mode] = std::move(factory);
  if (mode == mode_) invalidate();
}

std::shared_ptr<const QuantizedLinears> HybridModel::quantized_linears() {
  if (!quantized_) quantized_ = std::make_shared<const QuantizedLinears>(*model_, remote_, quant_);
  return quantized_;
}

LinearBackend& HybridModel::backend() {
  if (!backend_) {
    auto it = factories_.find(mode_);
    require(it != factories_.end(), ErrorCode::bad_mode,
            "fhe mode '" + std::string(fhe_mode_name(mode_)) + "' is not available in this build");
    backend_ = it->second(*this);
  }
  return *backend_;
}

model::LinearOps& HybridModel::linear_ops() {
  if (!router_) router_ = std::make_unique<Router>(*model_, backend(), remote_);
  return *router_;
}

model::EmbeddingOps& HybridModel::embedding_ops() {
  linear_ops();
  return *router_;
}

double GenerationResult::tokens_per_second() const {
  const double t = prefill_seconds + decode_seconds;
  return t > 0.0 ? static_cast<double>(ids.size()) / t : 0.0;
}

namespace {

// Finite weights can still overflow float32 on the way (a corrupt or
// mis-scaled file): NaN logits would sample garbage, so they are an error.
void require_finite_logits(std::span<const float> logits, std::size_t position) {
  for (const float v : logits) {
    if (!std::isfinite(v)) {
      throw Error(ErrorCode::bad_model_file, "the forward pass gave non-finite logits at position " +
                                                 std::to_string(position) +
                                                 ": the weights overflow float32 (corrupt or mis-scaled model file)");
    }
  }
}

// The prompt's pass, observed: after each linear group, (groups done, groups
// in a pass) to the caller, until finish().
class ObservedLinear final : public model::LinearOps {
 public:
  ObservedLinear(model::LinearOps& inner, std::uint64_t per_pass, const ProgressCallback& report)
      : inner_(inner), per_pass_(per_pass), report_(report) {}
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override {
    inner_.apply(id, x, rows, y);
    if (active_ && report_) report_(std::min(++done_, per_pass_), per_pass_);
  }
  void finish() { active_ = false; }

 private:
  model::LinearOps& inner_;
  std::uint64_t per_pass_, done_ = 0;
  const ProgressCallback& report_;
  bool active_ = true;
};

}  // namespace

GenerationResult HybridModel::generate(std::span<const TokenId> prompt, std::size_t n_tokens,
                                       const GenerateOptions& options, const std::function<void(TokenId)>& on_token) {
  require(!prompt.empty(), ErrorCode::invalid_argument, "generate: empty prompt (start with BOS)");
  const model::ModelConfig& c = model_->config();
  require(prompt.size() + n_tokens <= c.context + 1, ErrorCode::context_overflow,
          "generate: " + std::to_string(prompt.size()) + " prompt tokens + " + std::to_string(n_tokens) +
              " new ones exceed the context of " + std::to_string(c.context));
  GenerationResult r;
  r.n_prompt = prompt.size();
  if (n_tokens == 0) return r;  // no forward pass: nothing remote runs, no session opens
  ObservedLinear ops(linear_ops(), model_->linear_ids().size(), options.prompt_progress);
  const LinearStats before = backend().stats();
  // The KV cache only needs the positions this call uses. The kept one
  // (reuse_prefix) is taken out: if this call throws, it is dropped.
  const std::size_t positions = std::min(c.context, prompt.size() + n_tokens);
  std::unique_ptr<model::Session> session = std::move(kept_session_);
  std::vector<TokenId> fed = std::move(kept_ids_);
  kept_ids_.clear();
  std::size_t reused = 0;
  if (options.reuse_prefix) {
    // The shared prefix, short of the prompt's last id (its logits are needed).
    const std::size_t limit = std::min(fed.size(), prompt.size() - 1);
    while (reused < limit && fed[reused] == prompt[reused]) ++reused;
  }
  if (session) {  // its arrays serve again from the shared prefix (position 0 when none)
    session->rebind(ops, &embedding_ops());
    session->rewind(reused);
    session->reserve(positions);
  } else {
    session = std::make_unique<model::Session>(model_, ops, positions, &embedding_ops());
  }
  r.n_cached = reused;
  fed.assign(prompt.begin(), prompt.end());  // the ids at the cache's positions
  model::Sampler sampler(options.sampling);
  for (const TokenId id : prompt) sampler.accept(id);
  auto start = Clock::now();
  std::vector<float> logits = session->forward(prompt.subspan(reused));
  ops.finish();
  for (std::size_t i = 0; i < n_tokens; ++i) {
    require_finite_logits(logits, prompt.size() + i);
    const TokenId next = sampler.sample(logits);
    if (options.stop_at_eos && (next == c.eos_id || (next == c.bos_id && c.bos_id >= 0))) {
      r.stopped_at_eos = true;
      break;
    }
    r.ids.push_back(next);
    sampler.accept(next);
    if (i == 0) {
      r.prefill_seconds = seconds_since(start);
      start = Clock::now();
    }
    if (on_token) on_token(next);
    if (options.stop != nullptr && options.stop->load()) {
      r.stopped = true;
      break;
    }
    if (i + 1 < n_tokens) {
      logits = session->forward(std::span<const TokenId>(&next, 1));
      fed.push_back(next);
    }
  }
  if (r.ids.empty()) {
    r.prefill_seconds = seconds_since(start);
  } else {
    r.decode_seconds = seconds_since(start);
  }
  const LinearStats after = backend().stats();
  r.remote = {after.n_calls - before.n_calls, after.n_rows - before.n_rows, after.seconds - before.seconds};
  if (options.reuse_prefix) {
    session->rebind(linear_ops(), &embedding_ops());  // `ops` ends with this call
    kept_session_ = std::move(session);
    kept_ids_ = std::move(fed);
  }
  return r;
}

EvalResult HybridModel::perplexity(std::span<const TokenId> ids, std::size_t window, std::size_t stride,
                                   const ProgressCallback& progress) {
  require(ids.size() >= 2, ErrorCode::invalid_argument, "perplexity: needs at least 2 tokens");
  const model::ModelConfig& c = model_->config();
  if (window == 0) window = std::min<std::size_t>(c.context, 1024);
  window = std::min(window, c.context);
  require(window >= 2, ErrorCode::invalid_argument, "perplexity: window below 2");
  if (stride == 0) stride = std::max<std::size_t>(1, window / 2);
  require(stride < window, ErrorCode::invalid_argument,
          "perplexity: stride " + std::to_string(stride) + " must be below the window of " + std::to_string(window));
  model::LinearOps& ops = linear_ops();
  const LinearStats before = backend().stats();
  model::Session session(model_, ops, window, &embedding_ops());
  EvalResult r;
  r.window = window;
  r.stride = stride;
  double nll = 0.0;
  std::size_t scored_until = 1;  // ids below this index are scored already
  for (std::size_t begin = 0;; begin += stride) {
    const std::size_t end = std::min(begin + window, ids.size());
    session.reset();
    const std::vector<float> logits = session.forward(ids.subspan(begin, end - begin), /*all_logits=*/true);
    // Position t of the window predicts id begin + t + 1.
    for (std::size_t target = scored_until; target < end; ++target) {
      const float* row = &logits[(target - begin - 1) * c.vocab_size];
      require_finite_logits(std::span<const float>(row, c.vocab_size), target - 1);
      const float max_logit = *std::max_element(row, row + c.vocab_size);
      double sum = 0.0;
      for (std::size_t v = 0; v < c.vocab_size; ++v) sum += std::exp(static_cast<double>(row[v]) - max_logit);
      const auto id = static_cast<std::size_t>(ids[target]);
      nll += std::log(sum) - (static_cast<double>(row[id]) - max_logit);
      r.top1.push_back(model::argmax(std::span<const float>(row, c.vocab_size)));
      r.n_predicted += 1;
    }
    scored_until = end;
    if (progress) progress(r.n_predicted, ids.size() - 1);
    if (end == ids.size()) break;
  }
  r.mean_nll = nll / static_cast<double>(r.n_predicted);
  r.perplexity = std::exp(r.mean_nll);
  const LinearStats after = backend().stats();
  r.remote = {after.n_calls - before.n_calls, after.n_rows - before.n_rows, after.seconds - before.seconds};
  return r;
}

std::vector<float> HybridModel::logits(std::span<const TokenId> ids) {
  require(!ids.empty(), ErrorCode::invalid_argument, "logits: no ids");
  const std::size_t context = model_->config().context;
  require(ids.size() <= context, ErrorCode::context_overflow,
          "logits: " + std::to_string(ids.size()) + " ids exceed the model's context of " + std::to_string(context));
  model::Session session(model_, linear_ops(), ids.size(), &embedding_ops());
  return session.forward(ids, /*all_logits=*/true);
}

}  // namespace fhellm::hybrid
