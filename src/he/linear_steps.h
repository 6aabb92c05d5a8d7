// Internal: the steps of the server's side of the encrypted matrix product
// (linear_server.cpp) that the embedding lookup (lookup_server.cpp) runs as
// well: the input side of the split point, the packing trees, the replies.
// Algorithm: docs/linear.md; the lookup's use of them: docs/embedding.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "he/ciphertext.h"
#include "he/evaluator.h"
#include "he/linear.h"
#include "he/prng.h"

namespace fhellm::he::detail {

// What every step of one call reads.
struct Call {
  const LinearPlan& plan;
  const LinearGeometry& geo;
  const LinearSessionKeys& sk;
  const Context& ctx;
  const EncodedWeights::Encoding& enc;
  Evaluator ev;
  std::size_t threads;
  std::size_t masks;   // 2^L
  std::size_t terms;   // chunks x 2^L
  bool narrow;         // 32-bit blocked products
};

// One row's input side: sigma_mask(input_c) for every term m = c 2^L + mask,
// blocked ([prime][block][term][part][16], narrow sets) or as ciphertexts.
struct RowInputs {
  std::vector<std::uint32_t, DefaultInitAllocator<std::uint32_t>> blocked;  // every word written by input_side
  std::vector<Ciphertext> cts;
};

// Step 2: the split point's input side for `rows` rows (inputs[r * chunks +
// c], NTT form, already scaled by 2^-L): sigma_mask(input) for every mask,
// stored per row as term c 2^L + mask. Consumes `inputs`.
std::vector<RowInputs> input_side(const Call& call, std::vector<Ciphertext>& inputs, std::size_t rows);

// Step 4: the packing tree of one packed ct over its entries (levels L+1..),
// in NTT form; `inner` threads share each level's merges.
Ciphertext pack_tree(const Call& call, std::vector<std::optional<Ciphertext>> level, std::size_t inner);

// The packed cts of a call, filled with the rows' tree entries in order
// (LinearGeometry::packed_cts: rows share packed cts): a block's entries
// complete some packed cts, whose trees run at once (each on one thread when
// there are enough, else sharing the threads), and start the next one, which
// waits for the next block.
class Packer {
 public:
  explicit Packer(const Call& call) : call_(call), slots_(call.geo.entries_per_packed()) {}

  // Takes the entries of the next rows (entries[r * E_row + e]); returns the
  // packed cts they complete, with their flat indices.
  std::vector<std::pair<std::size_t, Ciphertext>> add(std::vector<Ciphertext> entries);

 private:
  using Tree = std::vector<std::optional<Ciphertext>>;
  std::size_t total_entries() const { return std::size_t{call_.geo.row_groups} * call_.enc.entries; }
  const Call& call_;
  std::size_t slots_;
  Tree current_{slots_};
  std::size_t next_ = 0;  // global entries placed so far
};

// Step 5: circuit privacy, modulus switch and bytes, packed ct by packed ct in
// row-group-major order; members of a shared-mask group wait for its last one.
// The groups a batch completes are independent (each its own randomness and
// bytes): they run on the call's threads, their bytes appended in order.
class ReplyWriter {
 public:
  // `flood`: false only for detail::linear_evaluate_unflooded (tests).
  ReplyWriter(const Call& call, ByteWriter& w, bool flood = true) : call_(call), w_(w), flood_(flood) {}

  // Packed cts (flat index, LinearGeometry::packed_cts order), in order.
  void add(std::vector<std::pair<std::size_t, Ciphertext>> packed);

 private:
  struct Group {
    std::vector<Ciphertext> cts;
    std::vector<std::size_t> flats;
  };
  // The body positions a packed ct sends, ascending; for a companion plan
  // also split by kind of row (LinearPlan::companion_shift), in one pass.
  struct Used {
    std::vector<std::uint32_t> all;
    std::vector<std::uint32_t> standard, companion;  // companion plans only
  };
  Used used_positions(std::size_t flat) const;
  // One group's bytes (mask, then bodies), with randomness of its own.
  Bytes group_bytes(Group& group) const;
  void write_alone(Ciphertext& packed, std::size_t flat, Prng& rng, ByteWriter& w) const;
  // Each kind of row with its own flood (a companion row's carries its upload's 4^s).
  void flood(Ciphertext& ct, const Used& used, Prng& rng) const;
  SwitchedCiphertext switch_down(const Ciphertext& ct) const;
  void write_body(const SwitchedCiphertext& sw, std::span<const std::uint32_t> used, int bits, ByteWriter& w) const;
  // The sent body values: write_body, or for a companion plan each kind of
  // row at its own width (LinearPlan::companion_body_bits).
  void write_bodies(const Ciphertext& ct, const SwitchedCiphertext& sw, const Used& used, ByteWriter& w) const;

  const Call& call_;
  ByteWriter& w_;
  bool flood_;
  Group pending_;  // the members so far of the group in progress
};

}  // namespace fhellm::he::detail
