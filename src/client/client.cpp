// The client facade over hybrid (the model split and its modes), tokenizer
// (text in and out) and execute_channel (the transport).
#include "fhellm/client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>

#include "client/execute_channel.h"
#include "client/generation_stats.h"
#include "chat/stop_scanner.h"
#include "he/linear_layout.h"
#include "hybrid/artifact.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/hybrid_model_io.h"
#include "hybrid/online_store.h"
#include "model/config.h"
#include "model/sampler.h"
#include "tokenizer/tokenizer.h"

namespace fhellm {
namespace {

double ms(double seconds) { return 1e3 * seconds; }

hybrid::HybridModel open_model(const ClientOptions& o, std::unique_ptr<tokenizer::Tokenizer>& tok,
                               std::shared_ptr<const Bytes>& expected_description) {
  if (!o.artifact.empty()) {
    // The client artifact holds no remote weight: model, tokenizer and remote set come from it.
    hybrid::ClientArtifact a = hybrid::load_client_artifact(o.artifact);
    hybrid::HybridModel hm(a.model);
    tok = std::move(a.tokenizer);
    hm.set_remote_modules(a.remote);
    hm.set_quantization(a.description.quant);
    expected_description = std::make_shared<const Bytes>(std::move(a.description_bytes));
    return hm;
  }
  hybrid::HybridModel hm = hybrid::HybridModel::load(o.model);
  tok = hybrid::load_tokenizer_for(o.tokenizer, o.model, hm.model());
  hm.set_remote_modules(o.remote);
  if (o.weight_bits != 0) {
    quant::QuantOptions q = hm.quantization();
    q.weight_bits = o.weight_bits;
    hm.set_quantization(q);
  }
  return hm;
}

void check_options(const ClientOptions& o, hybrid::FheMode mode) {
  require(o.artifact.empty() != o.model.empty(), ErrorCode::invalid_argument,
          "client: give exactly one of `artifact` (NAME.client) and `model`");
  require(mode == hybrid::FheMode::execute || (o.artifact.empty() && o.server_url.empty()), ErrorCode::invalid_argument,
          "client: `artifact` and `server_url` go with fhe \"execute\"");
  require(o.artifact.empty() || !o.server_url.empty(), ErrorCode::invalid_argument,
          "client: an artifact needs `server_url` (the remote weights are there)");
  require(o.tokenizer.empty() || o.artifact.empty(), ErrorCode::invalid_argument,
          "client: an artifact carries its own tokenizer");
  require(o.weight_bits == 0 || o.artifact.empty(), ErrorCode::invalid_argument,
          "client: an artifact was compiled at its own weight bits");
  require(o.timeout_seconds > 0, ErrorCode::invalid_argument, "client: timeout_seconds must be positive");
}

// Tokens to generate: max_tokens, or with kUntilContextEnd as many as the context leaves.
std::size_t tokens_to_generate(const GenerateOptions& o, std::size_t n_prompt, std::size_t model_context) {
  require(o.context_size <= model_context, ErrorCode::invalid_argument,
          "context size " + std::to_string(o.context_size) + " exceeds the model's context of " +
              std::to_string(model_context));
  const std::size_t context = o.context_size == 0 ? model_context : o.context_size;
  require(n_prompt <= context, ErrorCode::context_overflow,
          std::to_string(n_prompt) + " prompt tokens exceed the context of " + std::to_string(context));
  const std::size_t room = context - n_prompt + 1;  // the last token is never fed back
  if (o.max_tokens == kUntilContextEnd) return room;
  require(o.max_tokens <= room, ErrorCode::context_overflow,
          std::to_string(n_prompt) + " prompt tokens + max_tokens " + std::to_string(o.max_tokens) +
              " exceed the context of " + std::to_string(context));
  return o.max_tokens;
}

model::SamplerOptions sampler_options(const GenerateOptions& o) {
  model::SamplerOptions s;
  s.temperature = o.temperature;
  s.top_k = o.top_k;
  s.top_p = o.top_p;
  s.seed = o.seed;
  s.min_p = o.min_p;
  s.repeat_penalty = o.repeat_penalty;
  s.repeat_last_n = o.repeat_last_n;
  return s;
}

}  // namespace

struct Client::Impl {
  ClientOptions options;  // as opened (compile reloads the model from options.model)
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;  // immutable: shared by new_session()
  std::optional<hybrid::HybridModel> hm;
  client::ExecuteClientOptions execute;
  std::shared_ptr<hybrid::ExecuteStats> exec;  // the execute session's running totals (online: the fallback's)
  // The online mode (ClientOptions::online), and precompute().
  bool online = false;
  std::string store_path, key_path;
  std::shared_ptr<hybrid::OnlineStore> store;
  std::shared_ptr<hybrid::OnlineStats> online_stats;
  client::ChannelFactory channels;
  ClientStats last;
  std::atomic<bool> stop{false};
  std::unique_ptr<client::OfflineSession> offline;  // precompute()'s session, kept between calls

  // Execute is registered whatever the first mode, so set_fhe_mode can reach
  // it; its session opens on first use.
  void enable_execute(hybrid::FheMode mode) {
    if (online) {
      const client::OnlineFigures f = client::enable_online(*hm, server_channels(), online_store());
      exec = f.fallback;
      online_stats = f.online;
    } else {
      exec = client::enable_execute(*hm, execute);
    }
    hm->set_mode(mode);
  }
  const client::ChannelFactory& server_channels() {
    if (!channels) channels = client::make_channel_factory(*hm, execute);
    return channels;
  }
  const std::shared_ptr<hybrid::OnlineStore>& online_store() {
    if (!store) {
      const hybrid::ClientSecret secret = hybrid::ClientSecret::load_or_create(
          key_path.empty() ? hybrid::default_client_secret_path() : std::filesystem::path(key_path));
      store = std::make_shared<hybrid::OnlineStore>(
          store_path.empty() ? hybrid::default_online_store_path() : std::filesystem::path(store_path), secret);
    }
    return store;
  }
  // Both sessions' figures (online: the online session and the fallback's).
  hybrid::ExecuteStats figures() const {
    return online_stats ? client::sum_stats(*exec, online_stats->session) : *exec;
  }
  hybrid::OnlineStats online_figures() const { return online_stats ? *online_stats : hybrid::OnlineStats{}; }
};

Client::Client(const ClientOptions& options) : impl_(std::make_unique<Impl>()) {
  const hybrid::FheMode mode = hybrid::parse_fhe_mode(options.fhe);
  check_options(options, mode);
  impl_->options = options;
  std::shared_ptr<const Bytes> expected;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  impl_->hm.emplace(open_model(options, tok, expected));
  impl_->tokenizer = std::move(tok);
  impl_->hm->set_precision(he::parse_linear_precision(options.precision));
  impl_->hm->set_simulate_draw(options.simulate_draw);
  impl_->execute.server_url = options.server_url;
  if (options.server_url.empty()) impl_->execute.local = std::make_shared<client::LocalServers>();  // new_session()s share it
  impl_->execute.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1e3));
  impl_->execute.expected_description = std::move(expected);
  impl_->execute.api_key = options.api_key;
  impl_->execute.ca_cert_path = options.ca_cert;
  impl_->online = options.online;
  impl_->store_path = options.online_store;
  impl_->key_path = options.client_key;
  require(!options.online || mode == hybrid::FheMode::execute, ErrorCode::invalid_argument,
          "client: the online mode goes with fhe \"execute\"");
  impl_->enable_execute(mode);
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Client Client::new_session() const {
  const hybrid::HybridModel& hm = *impl_->hm;
  auto impl = std::make_unique<Impl>();
  impl->options = impl_->options;
  impl->tokenizer = impl_->tokenizer;
  impl->hm.emplace(hm.shared_model());
  impl->hm->set_remote_modules(hm.remote_modules());
  impl->hm->set_quantization(hm.quantization());
  impl->hm->set_precision(hm.precision());
  impl->hm->set_simulate_draw(hm.simulate_draw());
  impl->execute = impl_->execute;
  impl->online = impl_->online;
  impl->store_path = impl_->store_path;
  impl->key_path = impl_->key_path;
  impl->enable_execute(hm.mode());
  return Client(std::move(impl));
}

std::unique_ptr<Client> Client::try_open(const ClientOptions& options, Status& status) noexcept {
  std::unique_ptr<Client> client;
  status = catch_status([&] { client = std::make_unique<Client>(options); });
  return client;
}

GenerateResult Client::generate(const std::string& prompt, const GenerateOptions& options,
                                const TextCallback& on_text) {
  return run_generation(tokenize(prompt, true), options, on_text);
}

Status Client::try_generate(const std::string& prompt, const GenerateOptions& options, const TextCallback& on_text,
                            GenerateResult& result) noexcept {
  return catch_status([&] { result = generate(prompt, options, on_text); });
}

GenerateResult Client::generate_from_ids(std::span<const std::int32_t> prompt_ids, const GenerateOptions& options,
                                         const TextCallback& on_text) {
  require(!prompt_ids.empty(), ErrorCode::invalid_argument, "generate: no prompt ids");
  const std::size_t vocab = impl_->hm->model().config().vocab_size;
  for (const std::int32_t id : prompt_ids) {
    require(id >= 0 && static_cast<std::size_t>(id) < vocab, ErrorCode::unknown_token,
            "generate: prompt id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab));
  }
  return run_generation(std::vector<std::int32_t>(prompt_ids.begin(), prompt_ids.end()), options, on_text);
}

Status Client::try_generate_from_ids(std::span<const std::int32_t> prompt_ids, const GenerateOptions& options,
                                     const TextCallback& on_text, GenerateResult& result) noexcept {
  return catch_status([&] { result = generate_from_ids(prompt_ids, options, on_text); });
}

std::vector<std::int32_t> Client::tokenize(const std::string& text, bool add_special) const {
  if (add_special) return hybrid::encode_prompt(*impl_->tokenizer, impl_->hm->model(), text);
  return impl_->tokenizer->encode(text, false);
}

GenerateResult Client::run_generation(std::vector<std::int32_t> prompt_ids, const GenerateOptions& options,
                                      const TextCallback& on_text) {
  hybrid::HybridModel& hm = *impl_->hm;
  GenerateResult out;
  out.prompt_ids = std::move(prompt_ids);
  const std::size_t n_tokens = tokens_to_generate(options, out.prompt_ids.size(), hm.model().config().context);
  hybrid::GenerateOptions g;
  g.sampling = sampler_options(options);
  g.stop_at_eos = options.stop_at_eos;
  g.stop = &impl_->stop;
  g.prompt_progress = options.prompt_progress;
  g.reuse_prefix = options.reuse_prefix;
  impl_->stop = false;
  const hybrid::ExecuteStats before = impl_->figures();
  const hybrid::OnlineStats online_before = impl_->online_figures();
  std::optional<hybrid::ExecuteStats> at_first_token;
  tokenizer::StreamDecoder stream(*impl_->tokenizer);
  chat::StopScanner stops(options.stop);
  bool callback_stopped = false;
  const auto emit = [&](const std::string& piece) {
    if (piece.empty() || callback_stopped) return;
    out.text += piece;
    if (on_text && !on_text(piece)) callback_stopped = true;
  };
  const hybrid::GenerationResult r = hm.generate(out.prompt_ids, n_tokens, g, [&](TokenId id) {
    if (!at_first_token) at_first_token = impl_->figures();
    emit(stops.push(stream.push(id)));
    if (callback_stopped || stops.stopped()) impl_->stop = true;
  });
  emit(stops.push(stream.flush()) + stops.flush());
  out.ids = r.ids;
  out.cached_prompt_tokens = r.n_cached;
  out.stopped_at_eos = r.stopped_at_eos;
  out.stop = stops.matched();
  out.cancelled = r.stopped && !stops.stopped();
  impl_->last = client::generation_stats(r);
  if (hm.mode() == hybrid::FheMode::disable) {  // the "remote" modules ran here as float products
    impl_->last.remote_calls = 0;
    impl_->last.remote_ms = 0;
  }
  if (hm.mode() == hybrid::FheMode::execute) {
    const hybrid::ExecuteStats after = impl_->figures();
    client::add_execute_figures(impl_->last, before, at_first_token.value_or(after), after);
    const hybrid::OnlineStats online_after = impl_->online_figures();
    impl_->last.online_rows = online_after.online_rows - online_before.online_rows;
    impl_->last.fallback_rows = online_after.fallback_rows - online_before.fallback_rows;
  }
  return out;
}

void Client::cancel() noexcept { impl_->stop = true; }

void Client::prepare() {
  if (impl_->hm->mode() == hybrid::FheMode::execute) impl_->hm->prepare();
}

Status Client::try_prepare() noexcept {
  return catch_status([&] { prepare(); });
}

PerplexityResult Client::perplexity(const std::string& text, const PerplexityOptions& options) {
  hybrid::HybridModel& hm = *impl_->hm;
  const std::vector<TokenId> ids = hybrid::encode_document(*impl_->tokenizer, hm.model(), text);
  const hybrid::ExecuteStats before = impl_->figures();
  const auto start = std::chrono::steady_clock::now();
  const hybrid::EvalResult r = hm.perplexity(ids, options.window, options.stride, options.progress);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PerplexityResult out;
  out.perplexity = r.perplexity;
  out.mean_nll = r.mean_nll;
  out.n_tokens = ids.size();
  out.n_predicted = r.n_predicted;
  out.top1 = r.top1;
  out.window = r.window;
  out.stride = r.stride;
  ClientStats s;
  s.n_prompt_tokens = ids.size();
  s.total_ms = s.prefill_ms = s.ttft_ms = ms(seconds);  // one prefill per window, no decode
  s.prefill_ms_per_row = s.total_ms / static_cast<double>(ids.size());
  if (hm.mode() != hybrid::FheMode::disable) {  // disable runs the "remote" modules here as float products
    s.remote_calls = r.remote.n_calls;
    s.remote_ms = ms(r.remote.seconds);
  }
  if (hm.mode() == hybrid::FheMode::execute) {
    const hybrid::ExecuteStats after = impl_->figures();
    client::add_execute_figures(s, before, after, after);
  }
  impl_->last = s;
  return out;
}

Status Client::try_perplexity(const std::string& text, const PerplexityOptions& options,
                              PerplexityResult& result) noexcept {
  return catch_status([&] { result = perplexity(text, options); });
}

PrecomputeResult Client::precompute(const PrecomputeOptions& options) {
  require(impl_->hm->mode() == hybrid::FheMode::execute, ErrorCode::bad_mode,
          "precompute: the online mode's material is made by the server: use fhe \"execute\"");
  hybrid::PrecomputeOptions o;
  o.rows = options.rows;
  o.head_rows = options.head_rows;
  o.batch_rows = options.batch_rows;
  o.progress = options.progress;
  o.stop = options.stop;
  // One offline session for every call (a background top-up makes one per
  // idle stretch): its keys go up once. Dropped on a failure, opened again
  // by the next call.
  if (!impl_->offline) impl_->offline = std::make_unique<client::OfflineSession>(impl_->hm->model(), impl_->server_channels());
  hybrid::PrecomputeResult r;
  try {
    r = impl_->offline->run(*impl_->online_store(), o);
  } catch (...) {
    impl_->offline.reset();
    throw;
  }
  PrecomputeResult out;
  out.rows_made = r.rows_made;
  out.rows_present = r.rows_present;
  out.calls = r.calls;
  out.seconds = r.seconds;
  out.server_ms = ms(r.channel.server_seconds);
  out.network_ms = ms(r.channel.network_seconds);
  out.bytes_up = r.channel.bytes_up;
  out.bytes_down = r.channel.bytes_down;
  return out;
}

Status Client::try_precompute(const PrecomputeOptions& options, PrecomputeResult& result) noexcept {
  return catch_status([&] { result = precompute(options); });
}

void Client::set_fhe_mode(const std::string& fhe) { impl_->hm->set_mode(hybrid::parse_fhe_mode(fhe)); }

void Client::set_simulate_draw(std::uint64_t draw) { impl_->hm->set_simulate_draw(draw); }

void Client::set_remote_modules(const std::string& spec) {
  require(impl_->options.artifact.empty(), ErrorCode::invalid_argument,
          "client: the remote modules of a client artifact are fixed by its compile");
  impl_->hm->set_remote_modules(spec);
}

std::vector<float> Client::logits(const std::vector<std::int32_t>& ids) {
  hybrid::HybridModel& hm = *impl_->hm;
  const hybrid::ExecuteStats before = *impl_->exec;
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> out = hm.logits(ids);
  ClientStats s;
  s.n_prompt_tokens = ids.size();
  s.total_ms = s.prefill_ms = s.ttft_ms =
      ms(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  s.prefill_ms_per_row = s.total_ms / static_cast<double>(ids.size());
  if (hm.mode() == hybrid::FheMode::execute) client::add_execute_figures(s, before, *impl_->exec, *impl_->exec);
  impl_->last = s;
  return out;
}

Client::CompileResult Client::compile(const std::string& out_prefix, int weight_bits) const {
  const ClientOptions& o = impl_->options;
  require(o.artifact.empty(), ErrorCode::invalid_argument,
          "client: a client artifact holds no remote weight to compile; compile the model it came from");
  hybrid::CompileOptions c;
  std::string spec;
  for (const hybrid::LinearId id : impl_->hm->remote_modules()) spec += (spec.empty() ? "" : ",") + model::linear_name(id);
  c.remote = spec.empty() ? "none" : spec;
  c.quant = impl_->hm->quantization();
  c.quant.weight_bits = weight_bits;
  c.quant.validate();
  c.tokenizer = o.tokenizer;
  const hybrid::CompileReport r = hybrid::compile_artifacts(o.model, out_prefix, c);
  return {r.server_path.string(), r.client_path.string(), r.server_bytes, r.client_bytes, r.n_remote};
}

const ClientStats& Client::last_stats() const noexcept { return impl_->last; }

std::span<const std::int32_t> Client::cached_ids() const noexcept { return impl_->hm->cached_ids(); }

ClientModelInfo Client::model_info() const {
  const model::ModelConfig& c = impl_->hm->model().config();
  ClientModelInfo info;
  info.architecture = std::string(model::architecture_name(c.arch));
  info.n_layers = c.n_layers;
  info.context = c.context;
  info.vocab_size = c.vocab_size;
  info.bos_id = impl_->tokenizer->bos_id();
  info.eos_id = impl_->tokenizer->eos_id();
  info.n_remote_modules = impl_->hm->remote_modules().size();
  info.weight_bits = impl_->hm->quantization().weight_bits;
  info.fhe = std::string(hybrid::fhe_mode_name(impl_->hm->mode()));
  return info;
}

}  // namespace fhellm
