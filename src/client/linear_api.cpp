// fhellm::linear (include/fhellm/linear.h) over he's encrypted product.
#include "fhellm/linear.h"

#include <limits>

#include "he/linear.h"

namespace fhellm::linear {
namespace {

he::LinearShape checked_shape(std::size_t rows, std::size_t in, std::size_t out) {
  require(rows >= 1 && rows <= kMaxRows && in >= 1 && in <= kMaxIn && out >= 1 && out <= kMaxOut,
          ErrorCode::shape_mismatch,
          "linear: shape rows " + std::to_string(rows) + ", in " + std::to_string(in) + ", out " +
              std::to_string(out) + " outside 1..512, 1..8192, 1..131072");
  return {static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(in), static_cast<std::uint32_t>(out)};
}

MessageInfo info_of(const he::LinearMessageInfo& m) {
  return {m.shape.rows, m.shape.in, m.shape.out, std::string(he::linear_precision_name(m.precision)),
          m.input_signed};
}

}  // namespace

struct Client::Impl {
  he::LinearClient client;
};

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

std::vector<std::uint8_t> Client::server_keys() const { return impl_->client.server_keys().save(); }

std::vector<std::uint8_t> Client::encrypt(const std::uint8_t* x, std::size_t rows, std::size_t in, std::size_t out,
                                          const std::string& precision) const {
  const he::LinearShape shape = checked_shape(rows, in, out);
  return impl_->client.encrypt(std::span<const std::uint8_t>(x, rows * in), shape,
                               he::parse_linear_precision(precision));
}

std::vector<std::uint8_t> Client::encrypt(const std::int8_t* x, std::size_t rows, std::size_t in, std::size_t out,
                                          const std::string& precision) const {
  const he::LinearShape shape = checked_shape(rows, in, out);
  return impl_->client.encrypt(std::span<const std::int8_t>(x, rows * in), shape,
                               he::parse_linear_precision(precision));
}

Product Client::decrypt(std::span<const std::uint8_t> reply) const {
  const he::LinearMessageInfo info = he::peek_linear_reply(reply);
  Product p;
  p.values = impl_->client.decrypt(reply);
  p.rows = info.shape.rows;
  p.out = info.shape.out;
  require(p.values.size() == p.rows * p.out, ErrorCode::internal_error, "linear: decrypted size disagrees with the reply");
  return p;
}

struct ServerKeys::Impl {
  he::LinearServerKeys keys;
};

ServerKeys::ServerKeys(std::span<const std::uint8_t> bytes)
    : impl_(std::make_unique<Impl>(Impl{he::LinearServerKeys::load(bytes)})) {}
ServerKeys::~ServerKeys() = default;
ServerKeys::ServerKeys(ServerKeys&&) noexcept = default;
ServerKeys& ServerKeys::operator=(ServerKeys&&) noexcept = default;

struct Weights::Impl {
  he::EncodedWeights weights;
};

namespace {

he::EncodedWeights encode(const std::int8_t* w, std::size_t out, std::size_t in,
                          const std::vector<std::string>& precisions) {
  (void)checked_shape(1, in, out);
  require(w != nullptr, ErrorCode::invalid_argument, "linear: no weights");
  require(!precisions.empty(), ErrorCode::invalid_argument, "linear: weights encoded for no precision");
  std::vector<he::LinearPrecision> ps;
  for (const std::string& p : precisions) ps.push_back(he::parse_linear_precision(p));
  return he::EncodedWeights(std::span<const std::int8_t>(w, out * in), static_cast<std::uint32_t>(out),
                            static_cast<std::uint32_t>(in), ps);
}

}  // namespace

Weights::Weights(const std::int8_t* w, std::size_t out, std::size_t in, const std::vector<std::string>& precisions)
    : impl_(std::make_unique<Impl>(Impl{encode(w, out, in, precisions)})) {}
Weights::~Weights() = default;
Weights::Weights(Weights&&) noexcept = default;
Weights& Weights::operator=(Weights&&) noexcept = default;
std::size_t Weights::out() const noexcept { return impl_->weights.out(); }
std::size_t Weights::in() const noexcept { return impl_->weights.in(); }
std::uint64_t Weights::encoded_bytes() const noexcept { return impl_->weights.encoded_bytes(); }

std::vector<std::uint8_t> evaluate(std::span<const std::uint8_t> upload, const Weights& weights,
                                   const ServerKeys& keys, std::size_t threads) {
  require(threads >= 1 && threads <= 1024, ErrorCode::invalid_argument,
          "linear: threads must be 1..1024, got " + std::to_string(threads));
  return he::linear_evaluate(upload, weights.impl_->weights, keys.impl_->keys, threads);
}

MessageInfo peek_upload(std::span<const std::uint8_t> upload) { return info_of(he::peek_linear_upload(upload)); }
MessageInfo peek_reply(std::span<const std::uint8_t> reply) { return info_of(he::peek_linear_reply(reply)); }

}  // namespace fhellm::linear
