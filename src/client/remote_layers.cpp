// fhellm::RemoteLayers over hybrid's pieces without a model: the quantizer,
// SimulatedProduct, execute_product, the remote service and its description,
// the server artifact writer; the HTTP channel from net.
#include "fhellm/remote_layers.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <span>

#include "he/linear.h"
#include "hybrid/artifact.h"
#include "hybrid/execute_backend.h"
#include "hybrid/remote_model.h"
#include "hybrid/simulate_backend.h"
#include "net/http_channel.h"

namespace fhellm {
namespace {

using Clock = std::chrono::steady_clock;
using hybrid::LinearId;
using hybrid::LinearKind;

constexpr int kMaxLayerIndex = 1023;  // the description holds at most 1024 layers
constexpr std::size_t kMaxArchitectureBytes = 64;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// "layers.N.KIND" or "lm_head" -> the group; the name must be the one
// model::linear_name writes back.
LinearId parse_group_name(const std::string& name) {
  const auto invalid = [&] {
    return Error(ErrorCode::invalid_argument,
                 "remote layer name '" + name +
                     "': expected layers.N.qkv, layers.N.attn_out, layers.N.mlp_up, layers.N.mlp_down (N < 1024) "
                     "or lm_head");
  };
  if (name == "lm_head") return {-1, LinearKind::lm_head};
  const std::string prefix = "layers.";
  if (name.rfind(prefix, 0) != 0) throw invalid();
  const std::size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size() || dot - prefix.size() > 4) throw invalid();
  const std::string digits = name.substr(prefix.size(), dot - prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) throw invalid();
  const int layer = std::stoi(digits);
  if (layer > kMaxLayerIndex) throw invalid();
  for (LinearKind kind : {LinearKind::qkv, LinearKind::attn_out, LinearKind::mlp_up, LinearKind::mlp_down}) {
    const LinearId id{layer, kind};
    if (model::linear_name(id) == name) return id;
  }
  throw invalid();
}

struct Layer {
  RemoteLayerInfo info;
  LinearId id;
  quant::QuantizedWeights weights;
};

// The execute session: the client's keys and the channel (with the server
// in this process, the service too).
struct Session {
  std::shared_ptr<hybrid::RemoteLinearService> service;  // in process only; outlives the channel
  std::unique_ptr<hybrid::RemoteChannel> channel;
  std::unique_ptr<he::LinearClient> client;
  int weight_privacy_bits = 0;  // the server's setting, read from its description
};

}  // namespace

struct RemoteLayers::Impl {
  RemoteLayersOptions options;
  quant::QuantOptions quant;
  he::LinearPrecision precision;
  std::vector<Layer> layers;
  std::map<std::string, std::size_t> by_name;
  hybrid::SimulatedProduct product;
  std::optional<Session> session;
  quant::QuantizedRows scratch;
  RemoteLayersStats stats;

  explicit Impl(const RemoteLayersOptions& o)
      : options(o), precision(he::parse_linear_precision(o.precision)), product(precision) {}

  Layer& find(const std::string& name) {
    const auto it = by_name.find(name);
    require(it != by_name.end(), ErrorCode::unknown_layer, "no remote layer named '" + name + "'");
    return layers[it->second];
  }

  hybrid::RemoteModelDescription description() const {
    hybrid::RemoteModelDescription d;
    d.architecture = options.architecture;
    int max_layer = 0;
    for (const Layer& l : layers) max_layer = std::max(max_layer, l.id.layer + 1);
    require(options.n_layers == 0 || options.n_layers >= static_cast<std::uint32_t>(max_layer),
            ErrorCode::invalid_argument,
            "remote layers: n_layers " + std::to_string(options.n_layers) + " is below the layers' names' " +
                std::to_string(max_layer));
    d.n_layers = options.n_layers != 0 ? options.n_layers : static_cast<std::uint32_t>(std::max(1, max_layer));
    d.dim = options.dim != 0 ? options.dim : 1;
    d.vocab = options.vocab != 0 ? options.vocab : 1;
    d.quant = quant;
    for (const Layer& l : layers) {
      hybrid::RemoteLinearInfo info;
      info.wire_id = hybrid::linear_wire_id(l.id);
      info.n_out = static_cast<std::uint32_t>(l.info.n_out);
      info.n_in = static_cast<std::uint32_t>(l.info.n_in);
      info.scales = l.info.scales;
      info.row_sums = l.info.row_sums;
      d.linears.push_back(std::move(info));
    }
    return d;
  }

  void open(const std::string& server_url, double timeout_seconds);
};

RemoteLayers::RemoteLayers(const RemoteLayersOptions& options) : impl_(std::make_unique<Impl>(options)) {
  impl_->quant.weight_bits = options.weight_bits;
  impl_->quant.activation_bits = options.activation_bits;
  impl_->quant.validate();
  require(!options.architecture.empty() && options.architecture.size() <= kMaxArchitectureBytes,
          ErrorCode::invalid_argument, "remote layers: the architecture name must have 1 to 64 bytes");
  require(options.n_layers <= kMaxLayerIndex + 1, ErrorCode::invalid_argument,
          "remote layers: n_layers above 1024");
}

RemoteLayers::~RemoteLayers() { disconnect(); }
RemoteLayers::RemoteLayers(RemoteLayers&&) noexcept = default;
RemoteLayers& RemoteLayers::operator=(RemoteLayers&&) noexcept = default;

void RemoteLayers::add(const std::string& name, const float* weight, std::size_t n_out, std::size_t n_in) {
  Impl& m = *impl_;
  require(!m.session, ErrorCode::invalid_argument, "remote layers: add '" + name + "' before connect()");
  const LinearId id = parse_group_name(name);
  require(m.by_name.count(name) == 0, ErrorCode::invalid_argument, "remote layer '" + name + "' is held already");
  require(n_out >= 1 && n_out <= he::kLinearMaxOut && n_in >= 1 && n_in <= he::kLinearMaxIn,
          ErrorCode::shape_mismatch,
          "remote layer '" + name + "': shape " + std::to_string(n_out) + " x " + std::to_string(n_in) +
              " outside 1..131072 x 1..8192");
  require(weight != nullptr, ErrorCode::invalid_argument, "remote layer '" + name + "': no weights");
  Layer l;
  l.id = id;
  l.weights = quant::quantize_weights_per_channel(weight, n_out, n_in, m.quant.weight_bits);
  l.info.name = name;
  l.info.n_out = n_out;
  l.info.n_in = n_in;
  l.info.values = l.weights.values;
  l.info.scales = l.weights.scales;
  l.info.row_sums = l.weights.row_sums;
  m.by_name.emplace(name, m.layers.size());
  m.layers.push_back(std::move(l));
}

std::vector<std::string> RemoteLayers::names() const {
  std::vector<std::string> out;
  for (const Layer& l : impl_->layers) out.push_back(l.info.name);
  return out;
}

const RemoteLayerInfo& RemoteLayers::info(const std::string& name) const { return impl_->find(name).info; }

void RemoteLayers::simulate(const std::string& name, const float* x, std::size_t rows, const float* bias, float* y) {
  const auto start = Clock::now();
  Impl& m = *impl_;
  Layer& l = m.find(name);
  m.product.apply(l.id, l.weights, bias, x, rows, m.quant.activation_bits, y);
  m.stats.simulate_calls += 1;
  m.stats.rows += rows;
  m.stats.simulate_ms += ms_since(start);
}

void RemoteLayers::Impl::open(const std::string& server_url, double timeout_seconds) {
  require(!layers.empty(), ErrorCode::invalid_argument, "remote layers: connect() with no layer");
  require(timeout_seconds > 0, ErrorCode::invalid_argument, "remote layers: timeout_seconds must be positive");
  const auto start = Clock::now();
  const hybrid::RemoteModelDescription d = description();
  const Bytes expected = d.encode();
  Session s;
  if (server_url.empty()) {
    std::vector<std::vector<std::int8_t>> values;
    for (const Layer& l : layers) values.push_back(l.weights.values);
    hybrid::RemoteServiceOptions service;
    service.precisions = {precision};
    s.service = std::make_shared<hybrid::RemoteLinearService>(d, std::move(values), service);
    s.channel = std::make_unique<hybrid::InProcessChannel>(*s.service);
  } else {
    net::ChannelConfig config;
    config.url = server_url;
    config.io_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_seconds * 1e3));
    config.connect_timeout = std::min<std::chrono::milliseconds>(config.io_timeout, std::chrono::milliseconds(5000));
    s.channel = std::make_unique<net::HttpChannel>(config);
  }
  s.client = std::make_unique<he::LinearClient>();
  const Bytes served = s.channel->open_session(s.client->server_keys().save());
  // The server's weight-privacy setting is its own (serve --weight-privacy-bits):
  // adopted, and the rest of its description must equal these layers'.
  hybrid::RemoteModelDescription theirs;
  bool same = false;
  try {
    theirs = hybrid::RemoteModelDescription::decode(served);
    s.weight_privacy_bits = theirs.weight_privacy_bits;
    theirs.weight_privacy_bits = d.weight_privacy_bits;
    same = theirs.encode() == expected;
  } catch (const Error&) {
    same = false;
  }
  if (!same) {
    s.channel->close();
    throw Error(ErrorCode::bad_artifact,
                "the server at " + server_url +
                    " serves other layers than these (save its artifact from the same weights and options)");
  }
  stats.key_bytes = s.channel->stats().session_bytes_up;
  stats.session_open_ms += ms_since(start);
  session = std::move(s);
}

void RemoteLayers::connect(const std::string& server_url, double timeout_seconds) {
  disconnect();
  impl_->open(server_url, timeout_seconds);
}

bool RemoteLayers::connected() const noexcept { return impl_->session.has_value(); }

void RemoteLayers::disconnect() noexcept {
  if (!impl_ || !impl_->session) return;
  impl_->session->channel->close();
  impl_->session.reset();
}

void RemoteLayers::execute(const std::string& name, const float* x, std::size_t rows, const float* bias, float* y) {
  Impl& m = *impl_;
  require(m.session.has_value(), ErrorCode::invalid_argument, "remote layers: execute before connect()");
  const auto start = Clock::now();
  Layer& l = m.find(name);
  Session& s = *m.session;
  const hybrid::ChannelStats before = s.channel->stats();
  hybrid::ExecuteOptions o;
  o.precision = m.precision;
  o.activation_bits = m.quant.activation_bits;
  hybrid::execute_product(*s.client, *s.channel, hybrid::linear_wire_id(l.id), l.weights, bias, x, rows, o,
                          s.weight_privacy_bits, m.scratch, y);
  const hybrid::ChannelStats after = s.channel->stats();
  const double spent = ms_since(start);
  const double server = 1e3 * (after.server_seconds - before.server_seconds);
  const double network = 1e3 * (after.network_seconds - before.network_seconds);
  m.stats.execute_calls += 1;
  m.stats.rows += rows;
  m.stats.execute_ms += spent;
  m.stats.server_ms += server;
  m.stats.network_ms += network;
  m.stats.client_ms += std::max(0.0, spent - server - network);
  m.stats.bytes_up += after.bytes_up - before.bytes_up;
  m.stats.bytes_down += after.bytes_down - before.bytes_down;
}

std::uint64_t RemoteLayers::save_server_artifact(const std::string& path) const {
  const Impl& m = *impl_;
  require(!m.layers.empty(), ErrorCode::invalid_argument, "remote layers: no layer to save");
  std::vector<std::span<const std::int8_t>> values;
  for (const Layer& l : m.layers) values.emplace_back(l.weights.values);
  return hybrid::write_server_artifact(path, m.description(), values);
}

const RemoteLayersOptions& RemoteLayers::options() const noexcept { return impl_->options; }
RemoteLayersStats RemoteLayers::stats() const { return impl_->stats; }
void RemoteLayers::reset_stats() noexcept {
  const std::uint64_t keys = impl_->stats.key_bytes;
  impl_->stats = {};
  impl_->stats.key_bytes = keys;
}

}  // namespace fhellm
