// The encrypted matrix product Y = X W^T: the client encrypts T rows of 8-bit
// activations, the server multiplies them by its int8 weights under RLWE and
// returns packed, modulus-switched results; the client decrypts int64 Y.
// Algorithm, cost, traffic and noise: docs/linear.md; layout: linear_layout.h.
//
// Objects:
//  - LinearClient (per user): secret keys, encrypt -> upload bytes,
//    decrypt reply bytes -> Y. Not thread-safe (one per session/thread).
//  - LinearServerKeys (per session, public): Galois keys, a shared-mask key
//    and an encryption of zero (for re-randomization) per parameter set.
//    Immutable, shareable.
//  - EncodedWeights (per layer, server, linear_weights.h): W laid out and
//    NTT-transformed once, in the layer's resident layout, for every row count.
//  - linear_evaluate (server): upload + weights + keys -> reply bytes.
//    Thread-safe; concurrent calls share weights and keys read-only.
//
// Both sides compute the call's plan from (shape, precision, signedness,
// weight privacy bits) with plan_linear: the layer's resident layout (T_w = 1:
// one row per input ciphertext) and its widths.
//
// Upload message (little-endian):
//   0  4  magic "FHLU"           4  2  version (8)
//   6  1  precision (1 exact, 2 default, 3 mask-pow2, 4 mask-odd)   7  1  input signed (0/1)
//   8  2  parameter id           10 1  weight privacy bits S (0..40)   11 1  reserved (0)
//   12 4  rows T   16 4  in k    20 4  out n
//   24 4  chunk_width k_w        28 4  rows_per_ct T_w (1)
//   32 1  upload bits u          33 7  reserved (0)
//   40 8  payload bytes (exactly the bytes that follow)
//   then input_cts records (row-group major, then chunk): 32-byte seed, then
//   the body values at LinearGeometry::sent_positions (the coefficients the
//   useful outputs read: n_w blocks of the chunk's columns), u bits each
//   (bit_packing.h), padded to a byte: round(c0 * 2^u / Q).
// Reply message:
//   0  4  magic "FHLR"           4  2  version (8)
//   6  1  precision              7  1  input signed
//   8  2  parameter id           10 1  weight privacy bits   11 1  reserved (0)
//   12 4  rows   16 4  in   20 4  out   24 4  k_w   28 4  T_w
//   32 1  body bits  33 1  mask bits  34 6  reserved (0)
//   40 8  payload bytes
//   then the packed cts in the order of LinearGeometry::packed_cts (with one
//   row per input ct the rows' tree entries fill them in turn, so rows share
//   packed cts), in mask groups (LinearPlan::mask_group): with shared masks, groups of
//   kLinearSharedMaskGroup consecutive packed cts form one record: the shared
//   mask (N values at mask bits, padded to a byte), then the used body values
//   (LinearGeometry::used_positions) of each member at body bits (each padded
//   to a byte), member y under the session's shared-mask target y; a group of
//   one is a record under s. Without shared masks every packed ct is a record
//   of its own (mask, then body), under s.
// Every field is checked against the plan the receiver recomputes from
// (shape, precision, signed, privacy bits); lengths before allocation;
// coefficients < modulus.
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

#include "common/bytes.h"
#include "he/ciphertext.h"
#include "he/context.h"
#include "he/hoisted_galois.h"
#include "he/keys.h"
#include "he/linear_layout.h"
#include "he/linear_weights.h"
#include "he/lookup_layout.h"
#include "he/plaintext.h"
#include "he/shared_mask.h"

namespace fhellm::he {

// 9: the input-side keys at a 6-bit gadget (10 digits; 8 of 7 bits before).
// 10: a packed ct's live entries in bit-reversed tree slots (slot_of_entry).
// 11: n2048_q54's packing keys also with a composed 18-bit gadget (3 digits;
//     4 of 14 bits per prime), the trees of S = 0 plans: the keys and the cost
//     model's merges.
inline constexpr std::uint16_t kLinearFormatVersion = 11;
inline constexpr std::size_t kLinearHeaderBytes = 48;

struct LinearSessionKeys {
  ContextPtr context;
  GaloisKeys galois;      // elements 2^j + 1, j = 1..log2(N), per prime (linear_decomposition_bits)
  // The same elements with the composed gadget (linear_packing_gadget: the
  // trees of plans without weight privacy, S = 0); n2048_q54 only.
  GaloisKeys galois_composed;
  // The packing keys a plan's trees use (its packing gadget's set).
  const GaloisKeys& packing(const LinearPlan& plan) const noexcept {
    return plan.packing_base == GadgetBase::composed ? galois_composed : galois;
  }
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
  // s^2 -> s (make_square_key, kLookupSquareKeyBits): completes the embedding
  // lookup's selection keys (rgsw.h). n2048_q54 only.
  std::optional<KeySwitchKey> square;
};

class LinearServerKeys {
 public:
  // @throws Error(missing_galois_key) when no keys exist for `id`.
  const LinearSessionKeys& get(ParamId id) const;
  bool has(ParamId id) const noexcept { return sets_.count(id) != 0; }
  void insert(LinearSessionKeys keys);

  // "FHLK" u16 version (kLinearFormatVersion) u16 count, then per set:
  // u16 param id, u16 0, u32 galois bytes, galois keys (serialization.h),
  // u32 input-side galois bytes (0: none), galois keys, and only when that was
  // not 0: u32 sequential galois bytes, galois keys; then u32 zero bytes,
  // ciphertext, u32 shared-mask key bytes (0: none), key (shared_mask.h),
  // u32 square key bytes (0: none), key (serialization.h, key switching key),
  // u32 composed packing galois bytes (0: none), galois keys.
  std::vector<std::uint8_t> save() const;
  // Every key's gadget must be the plans' (linear_packing_gadget, the
  // shared-mask key's linear_decomposition_bits, the input-side and
  // sequential widths; the square key's, kLookupSquareKeyBits).
  // @throws Error(bad_magic|bad_version|truncated|trailing_bytes|length_too_large|
  //               bad_parameters (another gadget width)|...).
  static LinearServerKeys load(std::span<const std::uint8_t> bytes);

  // A server whose linear plans all have weight privacy S = 0 needs only the
  // composed packing set where a set has both: the per-prime one goes (1.4
  // MB of a n2048_q54 session), and an S > 0 plan then gets
  // missing_galois_key. With S > 0 both stay: the embedding lookup's plans
  // are S = 0's whatever the server's S (docs/embedding.md section 7).
  void keep_packing_for(int privacy_bits);

 private:
  std::map<ParamId, LinearSessionKeys> sets_;
};

// One parameter set's record in a LinearServerKeys upload.
struct LinearKeySetInfo {
  ParamId id{};
  std::size_t bytes = 0;  // the whole record, id to square key
};
// Walks an upload's records by their length fields without parsing any key
// (cheap: a server prices a session before paying for it).
// @throws Error(bad_magic|bad_version|truncated|trailing_bytes|length_too_large|
//               unknown_parameter_id|bad_message).
std::vector<LinearKeySetInfo> peek_linear_server_keys(std::span<const std::uint8_t> bytes);

class LinearClient {
 public:
  // Fresh secret keys for the given parameter sets (default: every set the
  // planner may pick). @throws Error(unknown_parameter_id).
  explicit LinearClient(std::vector<ParamId> sets = {ParamId::n2048_q54, ParamId::n4096_q108});

  // Public keys for the server (once per session), ready to serve.
  LinearServerKeys server_keys() const;
  // The same keys as bytes (server_keys().save()), made one parameter set at
  // a time without the server's layouts: what a client uploads, at a third
  // of the peak memory. 8.2 MB for both sets.
  std::vector<std::uint8_t> server_key_bytes() const;

  // X: rows x in, row-major; privacy_bits: the server's weight privacy
  // (linear_layout.h). @throws Error(invalid_argument) for shapes or privacy
  // bits out of range.
  std::vector<std::uint8_t> encrypt(std::span<const std::uint8_t> x, LinearShape shape,
                                    LinearPrecision precision = LinearPrecision::standard, int privacy_bits = 0) const;
  std::vector<std::uint8_t> encrypt(std::span<const std::int8_t> x, LinearShape shape,
                                    LinearPrecision precision = LinearPrecision::standard, int privacy_bits = 0) const;
  // Mask rows for the online mode (docs/online.md): residues r < t, t the
  // plain modulus of `precision` (mask_pow2 or mask_odd) for shape.in; the
  // reply decrypts to r W^T mod t, centred in (-t/2, t/2]. privacy_bits: the
  // server's weight privacy, as for encrypt.
  // @throws Error(invalid_argument) for another precision, a size mismatch,
  //         a residue >= t or privacy bits out of range.
  std::vector<std::uint8_t> encrypt_mask(std::span<const std::uint32_t> r, LinearShape shape,
                                         LinearPrecision precision, int privacy_bits = 0) const;
  // Y (rows x out, row-major). @throws Error on any malformed reply.
  std::vector<std::int64_t> decrypt(std::span<const std::uint8_t> reply) const;
  // What a client sees of the server's noise: phase - Delta * expected for
  // each value of the reply (rows x out, row-major), in units of the R_Q
  // phase (LinearNoise's), expected the true product. For tests and noise
  // studies. @throws as decrypt, Error(invalid_argument) for a size mismatch.
  std::vector<double> measure_noise(std::span<const std::uint8_t> reply, std::span<const std::int64_t> expected) const;

  // The embedding lookup (lookup.h): an upload asking for the table rows
  // `ids` (each < shape.table_rows, shape.rows of them) of a table of
  // `value_bits`-bit values. The server learns nothing about the ids.
  // @throws Error(invalid_argument) for shapes out of range or an id outside the table.
  std::vector<std::uint8_t> encrypt_lookup(std::span<const std::uint32_t> ids, LookupShape shape,
                                           int value_bits = 8) const;
  // The rows (rows x width, row-major), exact. @throws Error on any malformed reply.
  std::vector<std::int64_t> decrypt_lookup(std::span<const std::uint8_t> reply) const;
  // The server's noise in a lookup reply, as measure_noise: phase - Delta *
  // expected for each value (rows x width), expected the true rows.
  // @throws as decrypt_lookup, Error(invalid_argument) for a size mismatch.
  std::vector<double> measure_lookup_noise(std::span<const std::uint8_t> reply,
                                           std::span<const std::int64_t> expected) const;

 private:
  struct SetKeys;
  std::vector<std::uint8_t> encrypt_impl(const std::int32_t* x, LinearShape shape, LinearPrecision precision,
                                         bool input_signed, int privacy_bits) const;
  // Reads a reply: Y into `y`, or, with `expected`, the noise against it into `noise`.
  void read_reply(std::span<const std::uint8_t> reply, const std::int64_t* expected, std::vector<std::int64_t>* y,
                  std::vector<double>* noise) const;
  // One set's public keys; `light` drops each key's masks once made (for bytes only).
  LinearSessionKeys session_keys(ParamId id, const SetKeys& k, bool light) const;
  // The packed cts of a reply (after its header) for `plan`, decrypted; with
  // `expected` (rows x out), the noise against it into `noise`.
  std::vector<std::int64_t> decrypt_packed(ByteReader& r, const LinearPlan& plan,
                                           const std::int64_t* expected = nullptr,
                                           std::vector<double>* noise = nullptr) const;
  std::map<ParamId, std::shared_ptr<SetKeys>> keys_;
};

// The server side. @throws Error on a malformed upload (bad_magic, bad_version,
// truncated, trailing_bytes, unknown_parameter_id, parameter_mismatch,
// shape_mismatch, coefficient_out_of_range, length_too_large) or missing keys.
// `threads` worker threads for this call (1: the caller's thread only).
std::vector<std::uint8_t> linear_evaluate(std::span<const std::uint8_t> upload, const EncodedWeights& weights,
                                          const LinearServerKeys& keys, std::size_t threads = 1);

// Header fields of an upload (magic, version, ranges and the payload size
// checked; no planning, so a server can check the shape against its layer
// before any work). @throws Error(bad_magic|bad_version|bad_message|
// shape_mismatch|unknown_parameter_id|length_too_large|truncated|trailing_bytes).
struct LinearMessageInfo {
  LinearShape shape;
  LinearPrecision precision;
  bool input_signed;
  ParamId param_id;
  int privacy_bits;
};
LinearMessageInfo peek_linear_upload(std::span<const std::uint8_t> upload);
LinearMessageInfo peek_linear_reply(std::span<const std::uint8_t> reply);

}  // namespace fhellm::he
