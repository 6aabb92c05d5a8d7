#include "math/rns.h"

#include <cmath>
#include <numeric>
#include <string>

#include "fhellm/error.h"

namespace fhellm::math {

RnsBasis::RnsBasis(std::vector<Modulus> moduli) : moduli_(std::move(moduli)) {
  require(!moduli_.empty() && moduli_.size() <= kMaxModuli, ErrorCode::invalid_argument,
          "RNS basis needs 1.." + std::to_string(kMaxModuli) + " moduli, got " + std::to_string(moduli_.size()));
  for (std::size_t i = 0; i < moduli_.size(); ++i) {
    for (std::size_t j = i + 1; j < moduli_.size(); ++j) {
      require(std::gcd(moduli_[i].value(), moduli_[j].value()) == 1, ErrorCode::invalid_argument,
              "RNS moduli " + std::to_string(moduli_[i].value()) + " and " + std::to_string(moduli_[j].value()) +
                  " are not coprime");
    }
  }
  product_ = WideInt::from_u64(1);
  for (const Modulus& q : moduli_) product_ = product_.times(static_cast<std::int64_t>(q.value()));
  half_product_ = product_.shifted_right(1);
  for (std::size_t i = 0; i < moduli_.size(); ++i) {
    WideInt punctured = WideInt::from_u64(1);
    for (std::size_t j = 0; j < moduli_.size(); ++j) {
      if (j != i) punctured = punctured.times(static_cast<std::int64_t>(moduli_[j].value()));
    }
    punctured_.push_back(punctured);
    const std::uint64_t inv = moduli_[i].inverse(punctured.mod_word(moduli_[i].value()));
    punctured_inv_.emplace_back(inv, moduli_[i]);
  }
}

double RnsBasis::log2_product() const noexcept {
  double bits = 0;
  for (const Modulus& q : moduli_) bits += std::log2(static_cast<double>(q.value()));
  return bits;
}

WideInt RnsBasis::compose(const std::uint64_t* residues, std::size_t stride) const noexcept {
  WideInt x;
  for (std::size_t i = 0; i < moduli_.size(); ++i) {
    const std::uint64_t y = mul_shoup(residues[i * stride], punctured_inv_[i], moduli_[i].value());
    x += punctured_[i].times(static_cast<std::int64_t>(y));
  }
  // x < k * Q: subtract Q at most k - 1 times.
  while (!(x < product_)) x -= product_;
  return x;
}

WideInt RnsBasis::compose_centered(const std::uint64_t* residues, std::size_t stride) const noexcept {
  WideInt x = compose(residues, stride);
  if (half_product_ < x) x -= product_;
  return x;
}

void RnsBasis::decompose(const WideInt& x, std::uint64_t* residues, std::size_t stride) const noexcept {
  const bool negative = x.is_negative();
  const WideInt magnitude = x.abs();
  for (std::size_t i = 0; i < moduli_.size(); ++i) {
    const std::uint64_t r = magnitude.mod_word(moduli_[i].value());
    residues[i * stride] = negative ? moduli_[i].negate(r) : r;
  }
}

}  // namespace fhellm::math
