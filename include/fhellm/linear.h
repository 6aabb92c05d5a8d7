// fhellm::linear: the encrypted matrix product itself, for programs that run
// their own protocol (the Python package's fhellm.linear, docs/python.md).
// Y = X W^T with X int rows (uint8 0..255 or int8 -128..127) encrypted by
// the client under RLWE and W int8 weights held by the server; docs/linear.md
// gives the algorithm, cost, traffic and error.
//
//   fhellm::linear::Client client;                       // fresh secret keys
//   auto keys = client.server_keys();                    // public, once per session (~1 MB)
//   auto upload = client.encrypt(x.data(), rows, in, out);
//   // server side:
//   fhellm::linear::Weights w(weights.data(), out, in);  // encoded once
//   fhellm::linear::ServerKeys k(keys);                   // parsed once per session
//   auto reply = fhellm::linear::evaluate(upload, w, k);
//   // client side:
//   fhellm::linear::Product y = client.decrypt(reply);    // int64 [rows, out]
//
// Precision "default": each value of Y within 2^-16 of the largest value the
// layer can produce (k * max|x| * 128); "exact": every bit (each row
// evaluated twice). The client asks; weights encoded for either serve both.
// Errors: fhellm::Error (error.h) with the codes named below; every message
// is checked before use (hostile bytes give an Error, never a crash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fhellm/error.h"

namespace fhellm::linear {

inline constexpr std::size_t kMaxRows = 512;      // per upload
inline constexpr std::size_t kMaxIn = 8192;       // k
inline constexpr std::size_t kMaxOut = 131072;    // n

// A decrypted product: values [rows, out], row-major.
struct Product {
  std::size_t rows = 0, out = 0;
  std::vector<std::int64_t> values;
};

// What an upload or a reply declares (checked against its own layout).
struct MessageInfo {
  std::size_t rows = 0, in = 0, out = 0;
  std::string precision;  // "default" or "exact"
  bool input_signed = false;
};

class Weights;
class ServerKeys;

// The server's product: the reply to `upload`, on `threads` threads.
// Thread-safe: calls share weights and keys read-only.
// @throws Error on a malformed upload (bad_magic, bad_version, truncated,
//         trailing_bytes, unknown_parameter_id, parameter_mismatch,
//         shape_mismatch, coefficient_out_of_range, length_too_large), keys
//         of another parameter set (missing_galois_key)
std::vector<std::uint8_t> evaluate(std::span<const std::uint8_t> upload, const Weights& weights,
                                   const ServerKeys& keys, std::size_t threads = 1);

class Client {
 public:
  // Fresh secret keys (never leave this object).
  Client();
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // The public evaluation keys the server needs, once per session.
  std::vector<std::uint8_t> server_keys() const;

  // Encrypts X [rows, in] (row-major) for a product with `out` outputs.
  // @throws Error(shape_mismatch) for rows, in or out outside 1..kMax*,
  //         Error(invalid_argument) for another precision than "default" / "exact"
  std::vector<std::uint8_t> encrypt(const std::uint8_t* x, std::size_t rows, std::size_t in, std::size_t out,
                                    const std::string& precision = "default") const;
  std::vector<std::uint8_t> encrypt(const std::int8_t* x, std::size_t rows, std::size_t in, std::size_t out,
                                    const std::string& precision = "default") const;

  // Decrypts a reply to one of this client's uploads.
  // @throws Error(bad_magic | bad_version | truncated | trailing_bytes |
  //         shape_mismatch | coefficient_out_of_range | parameter_mismatch | ...)
  //         for a malformed reply
  Product decrypt(std::span<const std::uint8_t> reply) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A session's evaluation keys on the server, parsed once.
class ServerKeys {
 public:
  // @throws Error(bad_magic | bad_version | truncated | trailing_bytes | length_too_large | ...)
  explicit ServerKeys(std::span<const std::uint8_t> bytes);
  ~ServerKeys();
  ServerKeys(ServerKeys&&) noexcept;
  ServerKeys& operator=(ServerKeys&&) noexcept;

 private:
  friend std::vector<std::uint8_t> evaluate(std::span<const std::uint8_t>, const Weights&, const ServerKeys&,
                                            std::size_t);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// W [out, in] int8 (row-major), encoded once for each precision given.
class Weights {
 public:
  // @throws Error(shape_mismatch) for out or in outside 1..kMax*,
  //         Error(invalid_argument) for an unknown precision or none
  Weights(const std::int8_t* w, std::size_t out, std::size_t in,
          const std::vector<std::string>& precisions = {"default"});
  ~Weights();
  Weights(Weights&&) noexcept;
  Weights& operator=(Weights&&) noexcept;

  std::size_t out() const noexcept;
  std::size_t in() const noexcept;
  std::uint64_t encoded_bytes() const noexcept;

 private:
  friend std::vector<std::uint8_t> evaluate(std::span<const std::uint8_t>, const Weights&, const ServerKeys&,
                                            std::size_t);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The header of an upload or a reply, validated.
// @throws as decrypt / evaluate for a malformed header
MessageInfo peek_upload(std::span<const std::uint8_t> upload);
MessageInfo peek_reply(std::span<const std::uint8_t> reply);

}  // namespace fhellm::linear
