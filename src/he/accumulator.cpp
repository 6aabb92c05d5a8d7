#include "he/accumulator.h"

#include <cmath>

#include "fhellm/error.h"
#include "math/poly_arith.h"

namespace fhellm::he {

CiphertextAccumulator::CiphertextAccumulator(ContextPtr context) : context_(std::move(context)) {
  require(context_ != nullptr, ErrorCode::invalid_argument, "null context");
  const Context& ctx = *context_;
  std::size_t fold = ~std::size_t{0};
  use_u64_ = true;
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i) {
    const std::size_t terms = math::max_lazy_terms_u64(ctx.modulus(i));
    if (terms == 0) use_u64_ = false;
    fold = std::min(fold, terms);
  }
  const std::size_t size = 2 * ctx.moduli_count() * ctx.poly_degree();
  if (use_u64_) {
    fold_every_ = fold;
    acc64_.assign(size, 0);
  } else {
    std::uint64_t q_max = 0;
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i) q_max = std::max(q_max, ctx.modulus(i).value());
    const long double capacity = std::ldexp(1.0L, 128) / (static_cast<long double>(q_max) * q_max);
    fold_every_ = capacity > 1e9L ? 1000000000 : static_cast<std::size_t>(capacity) - 1;
    acc128_.assign(size, 0);
  }
}

void CiphertextAccumulator::multiply_add(const Ciphertext& ct, const PlaintextNtt& pt) {
  check_ciphertext(ct, *context_, "accumulated ciphertext");
  check_poly(pt.poly(), *context_, "accumulated plaintext");
  require(ct.is_ntt_form() && pt.poly().is_ntt_form(), ErrorCode::invalid_argument,
          "accumulator needs NTT-form operands");
  multiply_add_unchecked(ct, pt);
}

void CiphertextAccumulator::multiply_add_unchecked(const Ciphertext& ct, const PlaintextNtt& pt) noexcept {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  if (since_fold_ == fold_every_) fold();
  for (std::size_t i = 0; i < k; ++i) {
    const std::uint64_t* w = pt.poly().residues(i);
    if (use_u64_) {
      math::multiply_accumulate_u64(ct.c0.residues(i), w, acc64_.data() + i * n, n);
      math::multiply_accumulate_u64(ct.c1.residues(i), w, acc64_.data() + (k + i) * n, n);
    } else {
      math::multiply_accumulate_u128(ct.c0.residues(i), w, acc128_.data() + i * n, n);
      math::multiply_accumulate_u128(ct.c1.residues(i), w, acc128_.data() + (k + i) * n, n);
    }
  }
  ++since_fold_;
  ++terms_;
}

void CiphertextAccumulator::multiply_add(const Ciphertext& ct, const PlaintextNtt32& pt) {
  check_ciphertext(ct, *context_, "accumulated ciphertext");
  check_plaintext(pt, *context_, "accumulated plaintext");
  require(ct.is_ntt_form(), ErrorCode::invalid_argument, "accumulator needs NTT-form operands");
  // A PlaintextNtt32 exists only for primes < 2^32, where the 64-bit lanes are used.
  require(use_u64_, ErrorCode::internal_error, "32-bit plaintext on a 128-bit accumulator");
  multiply_add_unchecked(ct, pt);
}

void CiphertextAccumulator::multiply_add_unchecked(const Ciphertext& ct, const PlaintextNtt32& pt) noexcept {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  if (since_fold_ == fold_every_) fold();
  for (std::size_t i = 0; i < k; ++i) {
    math::multiply_accumulate_pair_u64_u32(ct.c0.residues(i), ct.c1.residues(i), pt.residues(i),
                                           acc64_.data() + i * n, acc64_.data() + (k + i) * n, n);
  }
  ++since_fold_;
  ++terms_;
}

void CiphertextAccumulator::multiply_add2_unchecked(const Ciphertext& a, const PlaintextNtt32& pa,
                                                    const Ciphertext& b, const PlaintextNtt32& pb) noexcept {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  if (since_fold_ + 2 > fold_every_) {
    multiply_add_unchecked(a, pa);
    multiply_add_unchecked(b, pb);
    return;
  }
  for (std::size_t i = 0; i < k; ++i) {
    math::multiply_accumulate_pair2_u64_u32(a.c0.residues(i), a.c1.residues(i), pa.residues(i), b.c0.residues(i),
                                            b.c1.residues(i), pb.residues(i), acc64_.data() + i * n,
                                            acc64_.data() + (k + i) * n, n);
  }
  since_fold_ += 2;
  terms_ += 2;
}

void CiphertextAccumulator::fold() noexcept {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  for (std::size_t part = 0; part < 2; ++part) {
    for (std::size_t i = 0; i < k; ++i) {
      const math::Modulus& q = ctx.modulus(i);
      const std::size_t off = (part * k + i) * n;
      if (use_u64_) {
        for (std::size_t j = 0; j < n; ++j) acc64_[off + j] = q.reduce(acc64_[off + j]);
      } else {
        for (std::size_t j = 0; j < n; ++j) acc128_[off + j] = q.reduce(acc128_[off + j]);
      }
    }
  }
  since_fold_ = 0;
}

Ciphertext CiphertextAccumulator::result() const {
  const Context& ctx = *context_;
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  Ciphertext out(ctx, true);
  for (std::size_t part = 0; part < 2; ++part) {
    RnsPoly& dst = part == 0 ? out.c0 : out.c1;
    for (std::size_t i = 0; i < k; ++i) {
      const std::size_t off = (part * k + i) * n;
      if (use_u64_) {
        math::reduce_u64(acc64_.data() + off, dst.residues(i), n, ctx.modulus(i));
      } else {
        math::reduce_u128(acc128_.data() + off, dst.residues(i), n, ctx.modulus(i));
      }
    }
  }
  return out;
}

void CiphertextAccumulator::reset() noexcept {
  std::fill(acc64_.begin(), acc64_.end(), 0);
  std::fill(acc128_.begin(), acc128_.end(), 0);
  since_fold_ = 0;
  terms_ = 0;
}

}  // namespace fhellm::he
