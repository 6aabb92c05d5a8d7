// Exact integer products c * s through the context's two auxiliary 61-bit
// NTT primes p0, p1 (CRT, Garner). |c * s| < N * 2^61 <= 2^76 << p0 p1 / 2.
#include "internal.h"

namespace fhellm::he {

std::vector<std::uint64_t> ternary_aux_ntt(const Context& context, const std::vector<std::int8_t>& s) {
  const std::size_t n = context.poly_degree();
  std::vector<std::uint64_t> out(2 * n);
  for (std::size_t a = 0; a < 2; ++a) {
    const math::NttTables& t = context.aux_ntt_tables(a);
    const std::uint64_t p = t.modulus().value();
    std::uint64_t* r = out.data() + a * n;
    for (std::size_t j = 0; j < n; ++j) r[j] = s[j] < 0 ? p - 1 : static_cast<std::uint64_t>(s[j]);
    math::ntt_forward(r, t);
  }
  return out;
}

std::vector<__int128> multiply_by_ternary_exact(const Context& context, const std::uint64_t* c,
                                                const std::vector<std::uint64_t>& s_aux_ntt) {
  const std::size_t n = context.poly_degree();
  std::vector<std::uint64_t> r0(c, c + n), r1(c, c + n);
  const math::Modulus& p0 = context.aux_ntt_tables(0).modulus();
  const math::Modulus& p1 = context.aux_ntt_tables(1).modulus();
  for (std::size_t j = 0; j < n; ++j) {
    r0[j] = p0.reduce(r0[j]);
    r1[j] = p1.reduce(r1[j]);
  }
  math::ntt_forward(r0.data(), context.aux_ntt_tables(0));
  math::ntt_forward(r1.data(), context.aux_ntt_tables(1));
  for (std::size_t j = 0; j < n; ++j) {
    r0[j] = p0.mul(r0[j], s_aux_ntt[j]);
    r1[j] = p1.mul(r1[j], s_aux_ntt[n + j]);
  }
  math::ntt_inverse(r0.data(), context.aux_ntt_tables(0));
  math::ntt_inverse(r1.data(), context.aux_ntt_tables(1));
  const std::uint64_t p0_inv = p1.inverse(p0.value() % p1.value());
  const math::ShoupConstant p0_inv_shoup(p0_inv, p1);
  const unsigned __int128 product = static_cast<unsigned __int128>(p0.value()) * p1.value();
  std::vector<__int128> out(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t diff = p1.sub(r1[j], p1.reduce(r0[j]));
    const std::uint64_t k = math::mul_shoup(diff, p0_inv_shoup, p1.value());
    unsigned __int128 v = static_cast<unsigned __int128>(k) * p0.value() + r0[j];
    out[j] = v > product / 2 ? -static_cast<__int128>(product - v) : static_cast<__int128>(v);
  }
  return out;
}

std::uint64_t small_ternary_operand_bound(const Context& context) noexcept {
  return context.aux_ntt_tables(0).modulus().value() / 2 / context.poly_degree();
}

std::vector<std::uint64_t> multiply_by_ternary_mod_pow2(const Context& context, const std::uint64_t* c,
                                                        const std::vector<std::uint64_t>& s_aux_ntt,
                                                        std::uint64_t modulus) {
  const std::size_t n = context.poly_degree();
  const math::NttTables& tables = context.aux_ntt_tables(0);
  const math::Modulus& p0 = tables.modulus();
  const std::uint64_t low = modulus - 1;
  std::vector<std::uint64_t> r(n);
  for (std::size_t j = 0; j < n; ++j) r[j] = c[j] & low;  // c s mod 2^b depends on c mod 2^b only
  math::ntt_forward(r.data(), tables);
  for (std::size_t j = 0; j < n; ++j) r[j] = p0.mul(r[j], s_aux_ntt[j]);
  math::ntt_inverse(r.data(), tables);
  // r = c s mod p0, and |c s| < N c < p0 / 2: centre, then reduce mod the
  // power of two (two's complement wraps as the residue).
  const std::uint64_t half = p0.value() / 2;
  for (std::size_t j = 0; j < n; ++j) {
    const std::int64_t v = r[j] > half ? -static_cast<std::int64_t>(p0.value() - r[j]) : static_cast<std::int64_t>(r[j]);
    r[j] = static_cast<std::uint64_t>(v) & low;
  }
  return r;
}

}  // namespace fhellm::he
