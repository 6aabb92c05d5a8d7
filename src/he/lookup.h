// The encrypted embedding lookup: the client encrypts T token ids (the
// server learns nothing about them), the server reads the rows of its int8
// table under encryption and returns them packed; the client decrypts the
// T x width integers. Algorithm, costs, traffic, noise: docs/embedding.md;
// plan: lookup_layout.h. It runs on the linear layer's session keys
// (LinearServerKeys: packing, input-side and sequential Galois keys, the
// shared-mask key, the encryption of zero and the square key) and on the
// client's LinearClient (encrypt_lookup / decrypt_lookup, linear.h).
//
// Upload (little-endian):
//   0  4  magic "FHEQ"           4  2  version (kLookupFormatVersion)
//   6  1  value bits (2..8)      7  1  reserved (0)
//   8  2  parameter id           10 2  reserved (0)
//   12 4  rows T   16 4  table rows V   20 4  width
//   24 4  chunk width k_w (N)    28 1  input levels L
//   29 1  upload bits u          30 1  select value bits (bits(Q); 0 when V <= N)
//   31 1  select bits            32 1  sparse select levels a
//   33 7  reserved (0)
//   40 8  payload bytes (exactly the bytes that follow)
//   then per id, in order: the one-hot record (32-byte seed, then the body
//   at the min(V, N) coefficients of the id's chunk, u bits each:
//   round(c0 2^u / Q), padded to a byte) and, when V > N, the select record
//   (32-byte seed, then the body coefficients c0 mod Q exactly at the
//   positions LookupPlan::select_positions, the p with p mod 2^(m + a) <
//   select bits x digits, in order, at bits(Q) bits each, padded to a byte;
//   each must be < Q).
// Reply:
//   0  4  magic "FHEA"           4  2  version
//   6  1  value bits  7 1 reserved  8 2 parameter id  10 2 reserved
//   12 4  rows   16 4  table rows   20 4  width   24 4  k_w   28 1  L
//   29 1  body bits  30 1  mask bits  31 1  select bits  32 1  sparse
//   select levels  33 7  reserved
//   40 8  payload bytes
//   then the packed cts exactly as the linear layer's reply (linear.h) for
//   the geometry {T, min(V, N), width}, k_w = N, T_w = 1, L.
// Every field is checked against the plan the receiver recomputes from
// (T, V, width, value bits); lengths before allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "he/linear.h"
#include "he/lookup_layout.h"
#include "he/lookup_table.h"

namespace fhellm::he {

// 2: the select record carries only the positions that reach a kept
// output (sparse select levels).
// 3: the reply's entries in bit-reversed tree slots (LinearGeometry::slot_of_entry).
// 4: the packing keys' composed gadget (the trees' noise and cost models).
inline constexpr std::uint16_t kLookupFormatVersion = 4;

// The server side: upload + table + the session's keys -> reply bytes, on
// `threads` threads. Thread-safe (tables and keys are read-only).
// @throws Error(bad_magic | bad_version | bad_message | truncated |
//         trailing_bytes | length_too_large | shape_mismatch |
//         parameter_mismatch | coefficient_out_of_range | missing_galois_key).
Bytes lookup_evaluate(ByteView upload, const EncodedTable& table, const LinearServerKeys& keys,
                      std::size_t threads = 1);

// Header fields of an upload (after validation of magic, version, ranges
// and the payload size; no planning: a server checks them first).
struct LookupMessageInfo {
  LookupShape shape;
  int value_bits = 8;
};
// @throws as lookup_evaluate's header checks, less the plan's (parameter_mismatch).
LookupMessageInfo peek_lookup_upload(ByteView upload);

}  // namespace fhellm::he
