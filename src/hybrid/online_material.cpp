#include "hybrid/online_material.h"

#include <openssl/crypto.h>

#include <numeric>
#include <string>

#include "fhellm/error.h"

namespace fhellm::hybrid {

std::vector<std::uint32_t> expand_mask(const he::Seed& seed, std::uint32_t k, std::uint64_t p) {
  he::Prng prng(seed);
  std::vector<std::uint64_t> wide(k);
  prng.fill_uniform_below(p, wide.data(), wide.size());
  std::vector<std::uint32_t> out(wide.begin(), wide.end());
  OPENSSL_cleanse(wide.data(), wide.size() * sizeof(std::uint64_t));
  return out;
}

CrtJoin::CrtJoin(std::uint64_t a, std::uint64_t b) : a_(a), b_(b) {
  require(a >= 2 && (a & (a - 1)) == 0 && b >= 3 && (b & 1) == 1 && a * b < (std::uint64_t{1} << 32),
          ErrorCode::invalid_argument,
          "CRT: moduli " + std::to_string(a) + " and " + std::to_string(b) + " are not a power of two and an odd number");
  // b^-1 mod 2^e by Newton's iteration (each step doubles the correct bits).
  std::uint64_t inv = b;  // correct to 3 bits for odd b
  for (int i = 0; i < 5; ++i) inv *= 2 - b * inv;
  b_inv_mod_a_ = inv & (a - 1);
}

std::uint32_t CrtJoin::operator()(std::uint64_t x_mod_a, std::uint64_t y_mod_b) const noexcept {
  // z = y + b ((x - y) b^-1 mod a): z = y mod b and z = x mod a, z < a b.
  const std::uint64_t t = ((x_mod_a - y_mod_b) * b_inv_mod_a_) & (a_ - 1);
  return static_cast<std::uint32_t>(y_mod_b + b_ * t);
}

MaskRow::MaskRow(const he::Seed& seed, std::vector<std::uint32_t> product)
    : seed_(seed), product_(std::move(product)), used_(false) {}

MaskRow::~MaskRow() { wipe(); }

MaskRow::MaskRow(MaskRow&& other) noexcept
    : seed_(other.seed_), product_(std::move(other.product_)), used_(other.used_) {
  other.wipe();
  other.used_ = true;
}

MaskRow& MaskRow::operator=(MaskRow&& other) noexcept {
  if (this != &other) {
    wipe();
    seed_ = other.seed_;
    product_ = std::move(other.product_);
    used_ = other.used_;
    other.wipe();
    other.used_ = true;
  }
  return *this;
}

const he::Seed& MaskRow::use() {
  require(!used_, ErrorCode::mask_reused, "online mask: this row was used before; a mask is used once");
  used_ = true;
  return seed_;
}

const he::Seed& MaskRow::seed_for_storage() const {
  require(!used_, ErrorCode::mask_reused, "online mask: a used row cannot be stored again");
  return seed_;
}

void MaskRow::wipe() noexcept {
  OPENSSL_cleanse(seed_.data(), seed_.size());
  if (!product_.empty()) OPENSSL_cleanse(product_.data(), product_.size() * sizeof(std::uint32_t));
}

}  // namespace fhellm::hybrid
