#include "he/linear_detail.h"

#include <map>
#include <memory>
#include <mutex>

#include "math/ntt.h"
#include "math/poly_arith.h"
#include "math/wide_int.h"

namespace fhellm::he::detail {
namespace {

MonomialSlots make_monomial_slots(const Context& ctx, std::size_t s) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  MonomialSlots m;
  m.value.assign(k, std::vector<std::uint64_t>(n, 0));
  m.shoup.assign(k, std::vector<std::uint64_t>(n, 0));
  for (std::size_t i = 0; i < k; ++i) {
    m.value[i][s] = 1;
    math::ntt_forward(m.value[i].data(), ctx.ntt_tables(i));
    const std::uint64_t q = ctx.modulus(i).value();
    if (q < (std::uint64_t{1} << 31))
      for (std::size_t j = 0; j < n; ++j) m.shoup[i][j] = (m.value[i][j] << 32) / q;
  }
  return m;
}

}  // namespace

std::vector<std::uint64_t> inverse_residues(const Context& ctx, std::uint64_t v) {
  std::vector<std::uint64_t> f(ctx.moduli_count());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = ctx.modulus(i).inverse(v);
  return f;
}

std::vector<std::uint64_t> power_of_two_residues(const Context& ctx, int bits) {
  std::vector<std::uint64_t> f(ctx.moduli_count());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = ctx.modulus(i).pow(2, static_cast<std::uint64_t>(bits));
  return f;
}

bool linear_words32(const Context& ctx) noexcept {
  // Below 2^27: the weights at rest fit 27-bit fields (math::pack_words27).
  for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
    if (ctx.modulus(i).value() >= (std::uint64_t{1} << 27)) return false;
  return true;
}

void rebuild_body(const Context& ctx, const std::vector<std::uint64_t>& v, int u, RnsPoly& c0) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const math::WideInt& q_big = ctx.coeff_basis().product();
  if (q_big.bit_length() <= 63 && u <= 63) {
    const math::u128 q = q_big.word(0);
    for (std::size_t j = 0; j < n; ++j) {
      // v < 2^u, so x <= Q < 2^63: one Barrett reduction per prime, not a 128-bit division.
      const auto x = static_cast<std::uint64_t>(
          (static_cast<math::u128>(v[j]) * q + (static_cast<math::u128>(1) << (u - 1))) >> u);
      for (std::size_t i = 0; i < k; ++i) c0.residues(i)[j] = ctx.modulus(i).reduce(x);
    }
  } else {
    for (std::size_t j = 0; j < n; ++j) {
      math::WideInt x = math::WideInt::from_u64(v[j]) * q_big;
      math::WideInt rounding;
      rounding.word((u - 1) / 64) = std::uint64_t{1} << ((u - 1) % 64);
      x = (x + rounding).shifted_right(u);
      for (std::size_t i = 0; i < k; ++i) c0.residues(i)[j] = x.mod_word(ctx.modulus(i).value());
    }
  }
  c0.set_ntt_form(false);
}

const MonomialSlots& monomial_slots(const Context& ctx, std::size_t s) {
  static std::mutex mutex;
  static std::map<std::pair<ParamId, std::size_t>, std::unique_ptr<const MonomialSlots>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{ctx.param_id(), s}];
  if (!slot) slot = std::make_unique<const MonomialSlots>(make_monomial_slots(ctx, s));
  return *slot;
}

Ciphertext monomial_butterfly(const Context& ctx, Ciphertext& even, const Ciphertext& odd, const MonomialSlots& m) {
  const std::size_t n = ctx.poly_degree();
  Ciphertext diff(ctx, true, kUninitialized);  // every slot written below
  for (int part = 0; part < 2; ++part) {
    RnsPoly& e = part == 0 ? even.c0 : even.c1;
    const RnsPoly& o = part == 0 ? odd.c0 : odd.c1;
    RnsPoly& d = part == 0 ? diff.c0 : diff.c1;
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
      math::monomial_butterfly_ntt(e.residues(i), o.residues(i), m.value[i].data(), m.shoup[i].data(),
                                   d.residues(i), n, ctx.modulus(i));
  }
  return diff;
}

}  // namespace fhellm::he::detail
