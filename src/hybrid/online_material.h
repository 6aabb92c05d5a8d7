// What the online mode precomputes per future row of a remote group
// (docs/online.md): a mask R (k residues uniform mod p, kept as the seed it
// expands from) and S = R W^T mod p. A row is used once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "he/prng.h"
#include "hybrid/online_wire.h"

namespace fhellm::hybrid {

// R from its seed: k residues uniform in [0, p) (AES-256-CTR, exact
// rejection sampling: he::Prng::fill_uniform_below).
std::vector<std::uint32_t> expand_mask(const he::Seed& seed, std::uint32_t k, std::uint64_t p);

// The residue mod a b of (x mod a, y mod b), a a power of two, b odd.
// @throws Error(invalid_argument) unless gcd(a, b) = 1 and a b < 2^32.
class CrtJoin {
 public:
  CrtJoin(std::uint64_t a, std::uint64_t b);
  std::uint32_t operator()(std::uint64_t x_mod_a, std::uint64_t y_mod_b) const noexcept;

 private:
  std::uint64_t a_, b_, b_inv_mod_a_;
};

// One row of material: a mask and its product, handed out once.
class MaskRow {
 public:
  MaskRow() = default;
  MaskRow(const he::Seed& seed, std::vector<std::uint32_t> product);
  ~MaskRow();  // wipes the seed and the product
  MaskRow(MaskRow&& other) noexcept;
  MaskRow& operator=(MaskRow&& other) noexcept;
  MaskRow(const MaskRow&) = delete;
  MaskRow& operator=(const MaskRow&) = delete;

  // The seed of R, for its one use. @throws Error(mask_reused) when the row
  // was used before (a second call, or a moved-from row).
  const he::Seed& use();
  bool used() const noexcept { return used_; }
  // S = R W^T mod p (n residues): readable after use().
  std::span<const std::uint32_t> product() const noexcept { return product_; }
  // For storage (rows never used only). @throws Error(mask_reused) after use().
  const he::Seed& seed_for_storage() const;

 private:
  void wipe() noexcept;
  he::Seed seed_{};
  std::vector<std::uint32_t> product_;
  bool used_ = true;  // a default or moved-from row holds nothing usable
};

// Rows of one remote group, made for one set of weights.
struct MaterialBatch {
  std::uint32_t wire_id = 0, n = 0, k = 0;
  std::uint64_t p = 0;
  online::WeightsDigest digest{};
  std::vector<MaskRow> rows;
};

}  // namespace fhellm::hybrid
