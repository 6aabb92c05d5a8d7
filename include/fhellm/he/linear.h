// The encrypted matrix product Y = X W^T: the client encrypts T rows of 8-bit
// activations, the server multiplies them by its int8 weights under RLWE and
// returns packed, modulus-switched results; the client decrypts int64 Y.
// Algorithm, cost, traffic and noise: docs/linear.md; layout: linear_layout.h.
//
// Objects:
//  - LinearClient (per user): secret keys, encrypt -> upload bytes,
//    decrypt reply bytes -> Y. Not thread-safe (one per session/thread).
//  - LinearServerKeys (per session, public): Galois keys and an encryption of
//    zero (for re-randomization) per parameter set. Immutable, shareable.
//  - EncodedWeights (per layer, server): W laid out and NTT-transformed once
//    per geometry (cached, thread-safe), shared read-only by all sessions.
//  - linear_evaluate (server): upload + weights + keys -> reply bytes.
//    Thread-safe; concurrent calls share weights and keys read-only.
//
// Upload message (little-endian):
//   0  4  magic "FHLU"           4  2  version (2)
//   6  1  precision (1 exact, 2 default)   7  1  input signed (0/1)
//   8  2  parameter id           10 2  objective (0 balanced, 1 traffic)
//   12 4  rows T   16 4  in k    20 4  out n
//   24 4  chunk_width k_w        28 4  rows_per_ct T_w
//   32 1  upload bits u          33 7  reserved (0)
//   40 8  payload bytes (exactly the bytes that follow)
//   then input_cts records: 32-byte seed, body values of u bits each
//   (bit_packing.h), padded to a byte: round(c0 * 2^u / Q). All N body
//   values, or, for sub-body plans (n_w = 1), only those at
//   LinearGeometry::sent_positions (one per input value).
// Reply message:
//   0  4  magic "FHLR"           4  2  version (2)
//   6  1  precision              7  1  input signed
//   8  2  parameter id           10 2  objective
//   12 4  rows   16 4  in   20 4  out   24 4  k_w   28 4  T_w
//   32 1  body bits  33 1  mask bits  34 6  reserved (0)
//   40 8  payload bytes
//   then the packed cts in row-group-major order. Without shared masks, one
//   record each: N mask values at mask bits, padded to a byte, then the used
//   body values (LinearGeometry::used_positions) at body bits, padded to a
//   byte. With shared masks (LinearPlan::shared_mask), cts 2i and 2i + 1 form
//   one record: the shared mask, then the used body values of 2i (secret t1),
//   then those of 2i + 1 (secret t2), each padded to a byte; an odd last ct
//   is a plain record under s.
// Every field is checked against the plan the receiver recomputes from
// (shape, precision, signed); lengths before allocation; coefficients < modulus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "fhellm/he/ciphertext.h"
#include "fhellm/he/context.h"
#include "fhellm/he/hoisted_galois.h"
#include "fhellm/he/keys.h"
#include "fhellm/he/linear_layout.h"
#include "fhellm/he/plaintext.h"
#include "fhellm/he/shared_mask.h"

namespace fhellm::he {

inline constexpr std::uint16_t kLinearFormatVersion = 4;
inline constexpr std::size_t kLinearHeaderBytes = 48;

struct LinearSessionKeys {
  ContextPtr context;
  GaloisKeys galois;      // elements 2^j + 1, j = 1..log2(N)
  // The split point's input-side automorphisms, hoisted: every composed
  // element (composed_galois_elements(N, kLinearHoistedLevels)), small gadget
  // (linear_input_decomposition_bits); may be empty.
  GaloisKeys galois_input;
  // The sequential levels' single elements (linear_sequential_galois_elements,
  // linear_sequential_decomposition_bits); present with galois_input.
  GaloisKeys galois_sequential;
  // galois_input laid out for the hoisted path (built by LinearServerKeys::insert).
  std::shared_ptr<const HoistedGaloisKeys> input_hoisted;
  Ciphertext zero;        // an encryption of zero (NTT form): the public key
  // Pairs of replies under one mask (linear_shared_mask_available sets only).
  std::optional<SharedMaskKey> shared_mask;
};

class LinearServerKeys {
 public:
  // @throws Error(missing_galois_key) when no keys exist for `id`.
  const LinearSessionKeys& get(ParamId id) const;
  bool has(ParamId id) const noexcept { return sets_.count(id) != 0; }
  void insert(LinearSessionKeys keys);

  // "FHLK" u16 version u16 count, then per set: u16 param id, u16 0,
  // u32 galois bytes, galois keys (serialization.h), u32 input-side galois
  // bytes (0: none), galois keys, u32 zero bytes, ciphertext, u32 shared-mask
  // key bytes (0: none), key (shared_mask.h).
  std::vector<std::uint8_t> save() const;
  // @throws Error(bad_magic|bad_version|truncated|trailing_bytes|length_too_large|...).
  static LinearServerKeys load(std::span<const std::uint8_t> bytes);

 private:
  std::map<ParamId, LinearSessionKeys> sets_;
};

class EncodedWeights {
 public:
  // W: out x in, row-major int8. @throws Error(invalid_argument) for shapes
  // outside 1..131072 x 1..8192 or a size mismatch.
  EncodedWeights(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in);

  std::uint32_t out() const noexcept { return out_; }
  std::uint32_t in() const noexcept { return in_; }
  // Weight polynomials (s, c) at index s * chunks + c for this plan's geometry
  // (encoded on first use, then cached; thread-safe). Stored in 32-bit words
  // (PlaintextNtt32) when every prime of the plan's set is below 2^32: half
  // the memory, and the products are memory-bound.
  using Polys = std::variant<std::vector<PlaintextNtt>, std::vector<PlaintextNtt32>>;
  std::shared_ptr<const Polys> polys(const LinearPlan& plan) const;
  // Bytes held by the cached encodings.
  std::size_t encoded_bytes() const;
  // Encodes ahead of time for the plans of the given row counts.
  void prepare(std::span<const std::uint32_t> row_counts, LinearPrecision precision, bool input_signed) const;

 private:
  std::vector<std::int8_t> w_;
  std::uint32_t out_, in_;
  mutable std::mutex mutex_;
  mutable std::map<std::tuple<int, std::uint32_t, std::uint32_t>, std::shared_ptr<const Polys>> cache_;
};

class LinearClient {
 public:
  // Fresh secret keys for the given parameter sets (default: every set the
  // planner may pick). @throws Error(unknown_parameter_id).
  explicit LinearClient(std::vector<ParamId> sets = {ParamId::n2048_q54, ParamId::n4096_q108});

  // Public keys for the server (once per session). About 1 MB for n2048_q54.
  LinearServerKeys server_keys() const;

  // X: rows x in, row-major. @throws Error(invalid_argument) for shapes out of range.
  std::vector<std::uint8_t> encrypt(std::span<const std::uint8_t> x, LinearShape shape,
                                    LinearPrecision precision = LinearPrecision::standard,
                                    LinearObjective objective = LinearObjective::balanced) const;
  std::vector<std::uint8_t> encrypt(std::span<const std::int8_t> x, LinearShape shape,
                                    LinearPrecision precision = LinearPrecision::standard,
                                    LinearObjective objective = LinearObjective::balanced) const;
  // Y (rows x out, row-major). @throws Error on any malformed reply.
  std::vector<std::int64_t> decrypt(std::span<const std::uint8_t> reply) const;

 private:
  std::vector<std::uint8_t> encrypt_impl(const std::int32_t* x, LinearShape shape, LinearPrecision precision,
                                         bool input_signed, LinearObjective objective) const;
  struct SetKeys;
  std::map<ParamId, std::shared_ptr<SetKeys>> keys_;
};

// The server side. @throws Error on a malformed upload (bad_magic, bad_version,
// truncated, trailing_bytes, unknown_parameter_id, parameter_mismatch,
// shape_mismatch, coefficient_out_of_range, length_too_large) or missing keys.
// `threads` worker threads for this call (1: the caller's thread only).
std::vector<std::uint8_t> linear_evaluate(std::span<const std::uint8_t> upload, const EncodedWeights& weights,
                                          const LinearServerKeys& keys, std::size_t threads = 1);

// Header fields of an upload or a reply (after validation of magic, version, size).
struct LinearMessageInfo {
  LinearShape shape;
  LinearPrecision precision;
  bool input_signed;
  ParamId param_id;
  LinearObjective objective;
};
LinearMessageInfo peek_linear_upload(std::span<const std::uint8_t> upload);

}  // namespace fhellm::he
