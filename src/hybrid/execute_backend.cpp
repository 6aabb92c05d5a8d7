#include "hybrid/execute_backend.h"

#include <algorithm>
#include <chrono>

#include "fhellm/error.h"
#include "he/linear.h"
#include "he/lookup.h"
#include "hybrid/hybrid_model.h"

namespace fhellm::hybrid {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void check_description(const RemoteModelDescription& d, const model::Model& model) {
  const model::ModelConfig& c = model.config();
  const std::string arch(model::architecture_name(c.arch));
  require(d.architecture == arch && d.n_layers == c.n_layers && d.dim == c.dim && d.vocab == c.vocab_size,
          ErrorCode::bad_artifact,
          "the server holds a " + d.architecture + " model (" + std::to_string(d.n_layers) + " layers, dim " +
              std::to_string(d.dim) + ", vocab " + std::to_string(d.vocab) + "), the client a " + arch + " model (" +
              std::to_string(c.n_layers) + " layers, dim " + std::to_string(c.dim) + ", vocab " +
              std::to_string(c.vocab_size) + ")");
}

void check_layer_shape(const RemoteLinearInfo& info, const model::Model& model, LinearId id) {
  const model::LinearView view = model.linear(id);
  require(info.n_out == view.n_out && info.n_in == view.n_in, ErrorCode::bad_artifact,
          model::linear_name(id) + ": the server's layer is " + std::to_string(info.n_out) + " x " +
              std::to_string(info.n_in) + ", the client's model expects " + std::to_string(view.n_out) + " x " +
              std::to_string(view.n_in));
}

struct ExecuteBackend::Layer {
  std::uint32_t wire_id = 0;
  quant::QuantizedWeights dequant;  // scales and row sums only
  const float* bias = nullptr;
};

ExecuteBackend::ExecuteBackend(const model::Model& model, std::unique_ptr<RemoteChannel> channel,
                               ExecuteOptions options, std::shared_ptr<ExecuteStats> stats)
    : model_(model),
      channel_(std::move(channel)),
      options_(options),
      stats_(stats ? std::move(stats) : std::make_shared<ExecuteStats>()) {
  require(channel_ != nullptr, ErrorCode::invalid_argument, "execute backend: no channel");
}

// The session opens at the first remote call, not before: a generation of no
// token, or with no remote module, uploads no key.
namespace {

// The parameter sets this model's products and lookups use at `precision`:
// keys for the others would be uploaded for nothing (n4096_q108's 2.1 MB
// serve exact plans only, for the GPT-2 and Llama shapes).
std::vector<he::ParamId> parameter_sets(const model::Model& model, he::LinearPrecision precision) {
  std::vector<he::ParamId> sets{he::kLookupParamId};
  for (LinearId id : model.linear_ids()) {
    const model::LinearView v = model.linear(id);
    const he::ParamId p =
        he::plan_linear({1, static_cast<std::uint32_t>(v.n_in), static_cast<std::uint32_t>(v.n_out)}, precision, false)
            .param_id;
    if (std::find(sets.begin(), sets.end(), p) == sets.end()) sets.push_back(p);
  }
  return sets;
}

}  // namespace

void ExecuteBackend::open_session() {
  const auto start = Clock::now();
  auto client = std::make_unique<he::LinearClient>(parameter_sets(model_, options_.precision));
  const Bytes keys = client->server_key_bytes();
  const Bytes description_bytes = channel_->open_session(keys);
  description_ = RemoteModelDescription::decode(description_bytes);
  check_description(description_, model_);
  client_ = std::move(client);
  stats_->open_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  stats_->key_upload_bytes = channel_->stats().session_bytes_up;
  stats_->n_sessions_opened += 1;
  stats_->channel = channel_->stats();
}

void ExecuteBackend::prepare() {
  if (!client_) open_session();
}

ExecuteBackend::~ExecuteBackend() {
  if (channel_) channel_->close();
}

const ExecuteBackend::Layer& ExecuteBackend::layer(LinearId id) {
  const std::uint32_t wire = linear_wire_id(id);
  auto it = layers_.find(wire);
  if (it != layers_.end()) return *it->second;
  check_layer_shape(description_.find(wire), model_, id);
  auto l = std::make_unique<Layer>();
  l->wire_id = wire;
  l->dequant = description_.dequantization(wire);
  l->bias = model_.linear(id).bias;
  return *layers_.emplace(wire, std::move(l)).first->second;
}

void ExecuteBackend::apply(LinearId id, const float* x, std::size_t rows, float* y) {
  const auto start = Clock::now();
  if (!client_) open_session();
  const ChannelStats before = channel_->stats();
  const Layer& l = layer(id);
  execute_product(*client_, *channel_, l.wire_id, l.dequant, l.bias, x, rows, options_, description_.weight_privacy_bits,
                  rows_, y);
  const double spent = std::chrono::duration<double>(Clock::now() - start).count();
  const ChannelStats after = channel_->stats();
  const double remote = (after.server_seconds - before.server_seconds) + (after.network_seconds - before.network_seconds);
  stats_->channel = after;
  stats_->client_seconds += std::max(0.0, spent - remote);
  stats_->n_calls += 1;
  stats_->n_rows += rows;
  LinearBackend::stats_.n_calls += 1;
  LinearBackend::stats_.n_rows += rows;
  LinearBackend::stats_.seconds += spent;
}

void execute_product(const he::LinearClient& client, RemoteChannel& channel, std::uint32_t wire_id,
                     const quant::QuantizedWeights& dequant, const float* bias, const float* x, std::size_t rows,
                     const ExecuteOptions& options, int weight_privacy_bits, quant::QuantizedRows& scratch,
                     float* y) {
  const std::size_t k = dequant.n_in, n = dequant.n_out;
  const std::uint32_t ids[] = {wire_id};
  // The encrypted product takes at most kLinearMaxRows rows per call.
  for (std::size_t r0 = 0; r0 < rows; r0 += he::kLinearMaxRows) {
    const std::size_t t = std::min<std::size_t>(he::kLinearMaxRows, rows - r0);
    quant::quantize_rows(x + r0 * k, t, k, options.activation_bits, scratch);
    const he::LinearShape shape{static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(k),
                                static_cast<std::uint32_t>(n)};
    const Bytes upload =
        client.encrypt(std::span<const std::uint8_t>(scratch.values), shape, options.precision, weight_privacy_bits);
    const Bytes reply = channel.call(ids, upload);
    const std::vector<std::int64_t> acc = client.decrypt(reply);
    require(acc.size() == t * n, ErrorCode::shape_mismatch,
            model::linear_name(linear_from_wire_id(wire_id)) + ": decrypted " + std::to_string(acc.size()) +
                " values, expected " + std::to_string(t * n));
    quant::dequantize_product(acc.data(), scratch, dequant, bias, y + r0 * n);
  }
}

void ExecuteBackend::lookup(LinearId table, std::span<const TokenId> ids, float* out) {
  const auto start = Clock::now();
  if (!client_) open_session();
  const ChannelStats before = channel_->stats();
  const Layer& l = layer(table);
  const std::size_t width = l.dequant.n_in, rows = l.dequant.n_out;
  const std::uint32_t wire[] = {l.wire_id};
  for (std::size_t r0 = 0; r0 < ids.size(); r0 += he::kLookupMaxRows) {
    const std::size_t t = std::min<std::size_t>(he::kLookupMaxRows, ids.size() - r0);
    std::vector<std::uint32_t> chunk(t);
    for (std::size_t i = 0; i < t; ++i) chunk[i] = static_cast<std::uint32_t>(ids[r0 + i]);
    const he::LookupShape shape{static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(rows),
                                static_cast<std::uint32_t>(width)};
    const Bytes upload = client_->encrypt_lookup(chunk, shape, kTableValueBits);
    const Bytes reply = channel_->call(wire, upload);
    const std::vector<std::int64_t> values = client_->decrypt_lookup(reply);
    require(values.size() == t * width, ErrorCode::shape_mismatch,
            model::linear_name(table) + ": decrypted " + std::to_string(values.size()) + " values, expected " +
                std::to_string(t * width));
    for (std::size_t i = 0; i < t; ++i) {
      const float scale = l.dequant.scales[chunk[i]];
      for (std::size_t j = 0; j < width; ++j)
        out[(r0 + i) * width + j] = scale * static_cast<float>(values[i * width + j]);
    }
  }
  const double spent = std::chrono::duration<double>(Clock::now() - start).count();
  const ChannelStats after = channel_->stats();
  const double remote = (after.server_seconds - before.server_seconds) + (after.network_seconds - before.network_seconds);
  stats_->channel = after;
  stats_->client_seconds += std::max(0.0, spent - remote);
  stats_->n_calls += 1;
  stats_->n_rows += ids.size();
  LinearBackend::stats_.n_calls += 1;
  LinearBackend::stats_.n_rows += ids.size();
  LinearBackend::stats_.seconds += spent;
}

namespace {

struct RemoteWeights {
  RemoteModelDescription description;
  std::vector<std::vector<std::int8_t>> values;  // per layer, the description's order
};

RemoteWeights remote_weights(HybridModel& hm) {
  auto q = hm.quantized_linears();
  std::vector<const quant::QuantizedWeights*> weights;
  RemoteWeights r;
  for (LinearId id : q->ids()) {
    weights.push_back(&q->get(id));
    r.values.push_back(q->get(id).values);
  }
  r.description = describe_remote(hm.model(), q->ids(), weights, q->options());
  return r;
}

}  // namespace

std::shared_ptr<RemoteLinearService> make_remote_service(HybridModel& hm, const RemoteServiceOptions& options) {
  RemoteWeights r = remote_weights(hm);
  return std::make_shared<RemoteLinearService>(std::move(r.description), std::move(r.values), options);
}

std::shared_ptr<RemoteLinearService> make_remote_service(HybridModel&& hm, const RemoteServiceOptions& options) {
  RemoteWeights r = remote_weights(hm);
  { HybridModel released = std::move(hm); }  // the float model and its int8 cache, before the encodings
  return std::make_shared<RemoteLinearService>(std::move(r.description), std::move(r.values), options);
}

void use_execute(HybridModel& hm, std::function<std::unique_ptr<RemoteChannel>(HybridModel&)> make_channel,
                 ExecuteOptions options, std::shared_ptr<ExecuteStats> stats) {
  hm.set_backend_factory(FheMode::execute, [make_channel = std::move(make_channel), options,
                                            stats](HybridModel& m) -> std::unique_ptr<LinearBackend> {
    ExecuteOptions o = options;
    o.activation_bits = m.quantization().activation_bits;
    o.precision = m.precision();
    return std::make_unique<ExecuteBackend>(m.model(), make_channel(m), o, stats);
  });
}

void use_execute_in_process(HybridModel& hm, ExecuteOptions options, std::shared_ptr<ExecuteStats> stats) {
  use_execute(
      hm,
      [](HybridModel& m) {
        RemoteServiceOptions service;
        service.precisions = {m.precision()};
        return std::make_unique<OwningInProcessChannel>(make_remote_service(m, service));
      },
      options,
      std::move(stats));
}

}  // namespace fhellm::hybrid
