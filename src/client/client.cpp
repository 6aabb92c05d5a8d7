// The client facade over hybrid (the model split and its modes), tokenizer
// (text in and out) and execute_channel (the transport).
#include "fhellm/client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

#include "client/execute_channel.h"
#include "client/generation_stats.h"
#include "he/linear_layout.h"
#include "hybrid/artifact.h"
#include "hybrid/hybrid_model.h"
#include "hybrid/hybrid_model_io.h"
#include "model/config.h"
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
  require(o.timeout_seconds > 0, ErrorCode::invalid_argument, "client: timeout_seconds must be positive");
}

}  // namespace

struct Client::Impl {
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::optional<hybrid::HybridModel> hm;
  std::shared_ptr<hybrid::ExecuteStats> exec;  // the execute session's running totals
  ClientStats last;
  std::atomic<bool> stop{false};
};

Client::Client(const ClientOptions& options) : impl_(std::make_unique<Impl>()) {
  const hybrid::FheMode mode = hybrid::parse_fhe_mode(options.fhe);
  check_options(options, mode);
  std::shared_ptr<const Bytes> expected;
  impl_->hm.emplace(open_model(options, impl_->tokenizer, expected));
  impl_->hm->set_precision(he::parse_linear_precision(options.precision));
  // Execute is registered whatever the first mode, so set_fhe_mode can reach
  // it; its session opens on first use.
  client::ExecuteClientOptions eo;
  eo.server_url = options.server_url;
  eo.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1e3));
  eo.expected_description = std::move(expected);
  impl_->exec = client::enable_execute(*impl_->hm, eo);
  impl_->hm->set_mode(mode);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

std::unique_ptr<Client> Client::try_open(const ClientOptions& options, Status& status) noexcept {
  std::unique_ptr<Client> client;
  status = catch_status([&] { client = std::make_unique<Client>(options); });
  return client;
}

GenerateResult Client::generate(const std::string& prompt, const GenerateOptions& options,
                                const TextCallback& on_text) {
  hybrid::HybridModel& hm = *impl_->hm;
  const std::size_t context = hm.model().config().context;
  GenerateResult out;
  out.prompt_ids = hybrid::encode_prompt(*impl_->tokenizer, hm.model(), prompt);
  const std::size_t room = context - std::min(context, out.prompt_ids.size());
  require(options.max_tokens <= room + 1, ErrorCode::context_overflow,
          std::to_string(out.prompt_ids.size()) + " prompt tokens + max_tokens " + std::to_string(options.max_tokens) +
              " exceed the model's context of " + std::to_string(context));

  hybrid::GenerateOptions g;
  g.sampling = {options.temperature, options.top_k, options.top_p, options.seed};
  g.stop_at_eos = options.stop_at_eos;
  g.stop = &impl_->stop;
  impl_->stop = false;
  const hybrid::ExecuteStats before = *impl_->exec;
  std::optional<hybrid::ExecuteStats> at_first_token;
  tokenizer::StreamDecoder stream(*impl_->tokenizer);
  const auto emit = [&](const std::string& piece) {
    out.text += piece;
    if (!piece.empty() && on_text && !on_text(piece)) impl_->stop = true;
  };
  const hybrid::GenerationResult r =
      hm.generate(out.prompt_ids, options.max_tokens, g, [&](TokenId id) {
        if (!at_first_token) at_first_token = *impl_->exec;
        emit(stream.push(id));
      });
  emit(stream.flush());
  out.ids = r.ids;
  out.stopped_at_eos = r.stopped_at_eos;
  out.cancelled = r.stopped;
  impl_->last = client::generation_stats(r);
  if (hm.mode() == hybrid::FheMode::execute)
    client::add_execute_figures(impl_->last, before, at_first_token.value_or(*impl_->exec), *impl_->exec);
  return out;
}

Status Client::try_generate(const std::string& prompt, const GenerateOptions& options, const TextCallback& on_text,
                            GenerateResult& result) noexcept {
  return catch_status([&] { result = generate(prompt, options, on_text); });
}

void Client::cancel() noexcept { impl_->stop = true; }

PerplexityResult Client::perplexity(const std::string& text, std::size_t window) {
  hybrid::HybridModel& hm = *impl_->hm;
  const std::vector<TokenId> ids = hybrid::encode_document(*impl_->tokenizer, hm.model(), text);
  const hybrid::ExecuteStats before = *impl_->exec;
  const auto start = std::chrono::steady_clock::now();
  const hybrid::EvalResult r = hm.perplexity(ids, window);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PerplexityResult out;
  out.perplexity = r.perplexity;
  out.mean_nll = r.mean_nll;
  out.n_tokens = ids.size();
  out.n_predicted = r.n_predicted;
  out.top1 = r.top1;
  ClientStats s;
  s.n_prompt_tokens = ids.size();
  s.total_ms = s.prefill_ms = s.ttft_ms = ms(seconds);  // one prefill per window, no decode
  s.prefill_ms_per_row = s.total_ms / static_cast<double>(ids.size());
  s.remote_calls = r.remote.n_calls;
  s.remote_ms = ms(r.remote.seconds);
  if (hm.mode() == hybrid::FheMode::execute) client::add_execute_figures(s, before, *impl_->exec, *impl_->exec);
  impl_->last = s;
  return out;
}

Status Client::try_perplexity(const std::string& text, std::size_t window, PerplexityResult& result) noexcept {
  return catch_status([&] { result = perplexity(text, window); });
}

void Client::set_fhe_mode(const std::string& fhe) { impl_->hm->set_mode(hybrid::parse_fhe_mode(fhe)); }

const ClientStats& Client::last_stats() const noexcept { return impl_->last; }

ClientModelInfo Client::model_info() const {
  const model::ModelConfig& c = impl_->hm->model().config();
  ClientModelInfo info;
  info.architecture = std::string(model::architecture_name(c.arch));
  info.n_layers = c.n_layers;
  info.context = c.context;
  info.vocab_size = c.vocab_size;
  info.fhe = std::string(hybrid::fhe_mode_name(impl_->hm->mode()));
  return info;
}

}  // namespace fhellm
