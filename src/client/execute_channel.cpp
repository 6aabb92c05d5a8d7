#include "client/execute_channel.h"

#include <algorithm>

#include "fhellm/error.h"
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

// A new HTTP channel (one session) each time the execute backend is built.
class HttpChannelMaker {
 public:
  HttpChannelMaker(net::ChannelConfig config, std::shared_ptr<const Bytes> expected)
      : config_(std::move(config)), expected_(std::move(expected)) {}
  std::unique_ptr<hybrid::RemoteChannel> operator()(hybrid::HybridModel&) const {
    return std::make_unique<CheckedChannel>(std::make_unique<net::HttpChannel>(config_), expected_);
  }

 private:
  net::ChannelConfig config_;
  std::shared_ptr<const Bytes> expected_;
};

}  // namespace

std::shared_ptr<hybrid::ExecuteStats> enable_execute(hybrid::HybridModel& hm, const ExecuteClientOptions& options) {
  auto stats = std::make_shared<hybrid::ExecuteStats>();
  hybrid::ExecuteOptions exec;
  if (options.server_url.empty()) {
    hybrid::use_execute_in_process(hm, exec, stats);
    return stats;
  }
  net::ChannelConfig config;
  config.url = options.server_url;
  config.io_timeout = options.timeout;
  config.connect_timeout = std::min<std::chrono::milliseconds>(options.timeout, std::chrono::milliseconds(5000));
  config.api_key = options.api_key;
  config.ca_cert_path = options.ca_cert_path;
  { net::HttpChannel probe(config); }  // validates the URL now, not at the first token
  hybrid::use_execute(hm, HttpChannelMaker(config, options.expected_description), exec, stats);
  return stats;
}

}  // namespace fhellm::client
