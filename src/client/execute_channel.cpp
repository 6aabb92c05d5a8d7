#include "client/execute_channel.h"

#include <algorithm>

#include "fhellm/error.h"
#include "he/linear.h"
#include "hybrid/remote_model.h"
#include "net/http_channel.h"

namespace fhellm::client {
namespace {

// Whether the server's description is the artifact's, byte for byte, but
// for the server's weight privacy bits: a setting of the server, not of the
// model (docs/linear.md section 6).
bool same_model(const Bytes& served, const Bytes& expected) {
  if (served == expected) return true;
  hybrid::RemoteModelDescription d = hybrid::RemoteModelDescription::decode(served);
  d.weight_privacy_bits = hybrid::RemoteModelDescription::decode(expected).weight_privacy_bits;
  return d.encode() == expected;
}

// Checks that the server's description is the one the client artifact expects.
class CheckedChannel final : public hybrid::RemoteChannel {
 public:
  CheckedChannel(std::unique_ptr<hybrid::RemoteChannel> inner, std::shared_ptr<const Bytes> expected)
      : inner_(std::move(inner)), expected_(std::move(expected)) {}
  Bytes open_session(ByteView keys) override {
    Bytes d = inner_->open_session(keys);
    if (expected_ && !same_model(d, *expected_)) {
      inner_->close();
      throw Error(ErrorCode::bad_artifact,
                  "the server serves another model than this client artifact (compile both from one "
                  "`fhellm compile`)");
    }
    return d;
  }
  Bytes call(std::span<const std::uint32_t> ids, ByteView payload) override { return inner_->call(ids, payload); }
  void close() noexcept override { inner_->close(); }
  hybrid::ChannelStats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<hybrid::RemoteChannel> inner_;
  std::shared_ptr<const Bytes> expected_;
};

// The servers in this process the options share (a Client's and its
// sessions'), else this model's own.
std::shared_ptr<LocalServers> local_servers(const ExecuteClientOptions& options) {
  return options.local ? options.local : std::make_shared<LocalServers>();
}

}  // namespace

ChannelFactory make_channel_factory(hybrid::HybridModel& hm, const ExecuteClientOptions& options) {
  if (options.server_url.empty()) {
    return [&hm, local = local_servers(options)]() -> std::unique_ptr<hybrid::RemoteChannel> {
      return std::make_unique<hybrid::OwningInProcessChannel>(local->get(hm, true));
    };
  }
  net::ChannelConfig config;
  config.url = options.server_url;
  config.io_timeout = options.timeout;
  config.connect_timeout = std::min<std::chrono::milliseconds>(options.timeout, std::chrono::milliseconds(5000));
  config.api_key = options.api_key;
  config.ca_cert_path = options.ca_cert_path;
  config.known_description = options.expected_description;
  { net::HttpChannel probe(config); }  // validates the URL now, not at the first token
  return [config, expected = options.expected_description]() -> std::unique_ptr<hybrid::RemoteChannel> {
    return std::make_unique<CheckedChannel>(std::make_unique<net::HttpChannel>(config), expected);
  };
}

std::shared_ptr<hybrid::ExecuteStats> enable_execute(hybrid::HybridModel& hm, const ExecuteClientOptions& options) {
  auto stats = std::make_shared<hybrid::ExecuteStats>();
  if (options.server_url.empty()) {
    hybrid::use_execute(
        hm,
        [local = local_servers(options)](hybrid::HybridModel& m) -> std::unique_ptr<hybrid::RemoteChannel> {
          return std::make_unique<hybrid::OwningInProcessChannel>(local->get(m, false));
        },
        {}, stats);
    return stats;
  }
  const ChannelFactory channels = make_channel_factory(hm, options);
  hybrid::use_execute(hm, [channels](hybrid::HybridModel&) { return channels(); }, {}, stats);
  return stats;
}

OnlineFigures enable_online(hybrid::HybridModel& hm, ChannelFactory channels, std::shared_ptr<hybrid::OnlineStore> store) {
  require(store != nullptr && channels != nullptr, ErrorCode::invalid_argument, "online mode: no store or server");
  OnlineFigures figures{std::make_shared<hybrid::ExecuteStats>(), std::make_shared<hybrid::OnlineStats>()};
  hm.set_backend_factory(hybrid::FheMode::execute, [channels, figures, store = std::move(store)](
                                                       hybrid::HybridModel& m) -> std::unique_ptr<hybrid::LinearBackend> {
    const int bits = m.quantization().activation_bits;
    auto fallback = [channels, &m, bits, exec = figures.fallback]() -> std::unique_ptr<hybrid::LinearBackend> {
      hybrid::ExecuteOptions e;
      e.precision = m.precision();
      e.activation_bits = bits;
      return std::make_unique<hybrid::ExecuteBackend>(m.model(), channels(), e, exec);
    };
    return std::make_unique<hybrid::OnlineBackend>(m.model(), channels(), store, fallback, bits, figures.online);
  });
  return figures;
}

OfflineSession::OfflineSession(const model::Model& model, const ChannelFactory& channels) : channel_(channels()) {
  const auto description = hybrid::RemoteModelDescription::decode(channel_->open_session(client_.server_keys().save()));
  hybrid::check_description(description, model);
  require(!description.linears.empty(), ErrorCode::bad_artifact, "the server holds no remote layer");
  layers_ = hybrid::query_online_info(*channel_, description.linears.front().wire_id);
  weight_privacy_bits_ = description.weight_privacy_bits;
}

OfflineSession::~OfflineSession() { channel_->close(); }

hybrid::PrecomputeResult OfflineSession::run(hybrid::OnlineStore& store, hybrid::PrecomputeOptions options) {
  options.weight_privacy_bits = weight_privacy_bits_;
  return hybrid::precompute_online(*channel_, client_, layers_, store, options);
}

}  // namespace fhellm::client
