// The online mode's payloads (docs/online.md section 4). They travel as the
// blobs of linear_call / linear_call_reply frames, like the encrypted
// product's, and the service tells them apart by their magic.
//
// All integers little-endian; every field is checked, lengths before
// allocation; values are bit-packed at w = bits(p - 1) bits (he/bit_packing.h),
// each record padded to a byte with zero bits.
//   FHOQ query     0 4 magic  4 2 version (1)  6 2 reserved (0)
//   FHOI info      0 4 magic  4 2 version  6 2 reserved  8 4 n_layers (1..kMaxOnlineLayers)
//                  then per layer: 4 wire id, 4 n (out), 4 k (in), 8 p, 32 weights digest
//   FHOU rows      0 4 magic  4 2 version  6 2 reserved  8 4 rows T (1..512)  12 4 k  16 4 n
//                  20 8 p  28 32 weights digest  60 T k values < p at w bits
//   FHOR result    0 4 magic  4 2 version  6 2 reserved  8 4 rows T  12 4 n  16 8 p
//                  24 T n values < p at w bits
// p must be he::linear_online_modulus(k).p for a product's k (k <= 8192), or
// he::kOnlineTableModulus (2^8) for a token or position table (docs/online.md
// section 10: k = V rows up to 2^18, n = the row width; a row's values are
// V = onehot(id) - R mod 2^8, the result V E mod 2^8).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"

namespace fhellm::hybrid::online {

inline constexpr std::uint16_t kOnlineFormatVersion = 1;
inline constexpr std::uint32_t kMaxOnlineLayers = 4096;

using WeightsDigest = std::array<std::uint8_t, 32>;

// What a linear_call blob holds, by its magic.
enum class PayloadKind { encrypted_rows, online_rows, online_query, other };
PayloadKind payload_kind(ByteView payload) noexcept;

// The online modulus of a product of k inputs, or of a table (`table`).
std::uint64_t online_modulus(bool table, std::uint32_t k);

// SHA-256 of "fhellm-online-weights-1", the wire id, n, k (u32 little-endian),
// the online modulus p (u64) and the int8 values (a product's W, n x k; a
// table's E, k x n, row-major): what online material is bound to.
WeightsDigest weights_digest(std::uint32_t wire_id, std::uint32_t n, std::uint32_t k,
                             std::span<const std::int8_t> w, bool table = false);

struct OnlineLayerInfo {
  std::uint32_t wire_id = 0, n = 0, k = 0;
  std::uint64_t p = 0;
  WeightsDigest digest{};
};

Bytes encode_online_query();
// @throws Error(bad_magic | bad_version | bad_message | truncated | trailing_bytes).
void decode_online_query(ByteView payload);

Bytes encode_online_info(const std::vector<OnlineLayerInfo>& layers);
// @throws as decode_online_query, Error(length_too_large) for too many
//         layers, Error(parameter_mismatch) for a p other than the layer's modulus,
//         Error(shape_mismatch) for a shape out of range.
std::vector<OnlineLayerInfo> decode_online_info(ByteView payload);

// T rows of k residues V = X - R mod p.
struct OnlineRows {
  std::uint32_t rows = 0, k = 0, n = 0;
  std::uint64_t p = 0;
  WeightsDigest digest{};
  std::vector<std::uint32_t> values;  // rows x k, each < p (a product's rows)
  // A table's rows (p = he::kOnlineTableModulus = 2^8): rows x k bytes, the
  // wire's own form (`values` stays empty): a prompt of T ids sends T V of
  // them, 4x less memory than words on either side.
  std::vector<std::uint8_t> bytes;
};
// @throws Error(invalid_argument) for a shape out of range, a value >= p, or
//         the rows in the member that does not match p (bytes for a table).
Bytes encode_online_rows(const OnlineRows& rows);
// @throws as decode_online_query, Error(shape_mismatch) for a shape out of
//         range, Error(parameter_mismatch) for a p other than
//         he::linear_online_modulus(k).p, Error(coefficient_out_of_range) for a value >= p.
OnlineRows decode_online_rows(ByteView payload);

// The header of a FHOU payload and its length, checked without reading the
// values (a server prices a call from it before any work): `values` is left
// empty. @throws as decode_online_rows but coefficient_out_of_range and
//         the padding's bad_message (the values are not read).
OnlineRows peek_online_rows(ByteView payload);

// T rows of n residues V W^T mod p.
Bytes encode_online_result(std::uint32_t rows, std::uint32_t n, std::uint64_t p, std::span<const std::uint32_t> values);
// Checks the header against the call it answers (rows, n, p).
// @throws as decode_online_query, Error(shape_mismatch | parameter_mismatch |
//         coefficient_out_of_range).
std::vector<std::uint32_t> decode_online_result(ByteView payload, std::uint32_t rows, std::uint32_t n, std::uint64_t p);

}  // namespace fhellm::hybrid::online
