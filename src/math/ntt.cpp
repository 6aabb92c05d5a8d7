#include "fhellm/math/ntt.h"

#include <string>

#include "fhellm/error.h"
#include "fhellm/math/cpu_features.h"
#include "fhellm/math/primes.h"

namespace fhellm::math {

NttTables::NttTables(std::size_t poly_degree, const Modulus& q) : n_(poly_degree), q_(q) {
  require(poly_degree >= 2 && poly_degree <= (std::size_t{1} << 17) && (poly_degree & (poly_degree - 1)) == 0,
          ErrorCode::invalid_argument, "NTT degree " + std::to_string(poly_degree) + " is not a power of two in [2, 2^17]");
  log_n_ = __builtin_ctzll(poly_degree);
  psi_ = minimal_primitive_root(2 * poly_degree, q.value());
  const std::uint64_t psi_inv = q.inverse(psi_);
  fwd_.resize(n_);
  inv_.resize(n_);
  std::uint64_t power = 1, inv_power = 1;
  for (std::size_t i = 0; i < n_; ++i) {
    const std::uint32_t slot = reverse_bits(static_cast<std::uint32_t>(i), log_n_);
    fwd_[slot] = ShoupConstant(power, q);
    inv_[slot] = ShoupConstant(inv_power, q);
    power = q.mul(power, psi_);
    inv_power = q.mul(inv_power, psi_inv);
  }
  inv_n_ = ShoupConstant(q.inverse(poly_degree), q);
  fwd_values_.resize(n_);
  inv_values_.resize(n_);
  for (std::size_t i = 0; i < n_; ++i) {
    fwd_values_[i] = fwd_[i].value;
    inv_values_[i] = inv_[i].value;
  }
  if (q.value() < (std::uint64_t{1} << 50)) {
    auto shoup52 = [&](std::uint64_t w) {
      return static_cast<std::uint64_t>((static_cast<u128>(w) << 52) / q.value());
    };
    fwd_shoup52_.resize(n_);
    inv_shoup52_.resize(n_);
    for (std::size_t i = 0; i < n_; ++i) {
      fwd_shoup52_[i] = shoup52(fwd_values_[i]);
      inv_shoup52_[i] = shoup52(inv_values_[i]);
    }
    inv_n_shoup52_ = shoup52(inv_n_.value);
  }
}

void ntt_forward_reference(std::uint64_t* a, const NttTables& tables) noexcept {
  const std::size_t n = tables.poly_degree();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  const ShoupConstant* roots = tables.forward_roots().data();
  // Values stay in [0, 4q) between layers (Harvey).
  for (std::size_t m = 1, t = n >> 1; m < n; m <<= 1, t >>= 1) {
    for (std::size_t i = 0; i < m; ++i) {
      const ShoupConstant w = roots[m + i];
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        std::uint64_t u = x[j];
        u = u >= two_q ? u - two_q : u;
        const std::uint64_t v = mul_shoup_lazy(y[j], w, q);
        x[j] = u + v;
        y[j] = u + two_q - v;
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t v = a[i];
    v = v >= two_q ? v - two_q : v;
    a[i] = v >= q ? v - q : v;
  }
}

void ntt_inverse_reference(std::uint64_t* a, const NttTables& tables) noexcept {
  const std::size_t n = tables.poly_degree();
  const std::uint64_t q = tables.modulus().value();
  const std::uint64_t two_q = 2 * q;
  const ShoupConstant* roots = tables.inverse_roots().data();
  // Values stay in [0, 2q) between layers.
  for (std::size_t m = n, t = 1; m > 1; m >>= 1, t <<= 1) {
    const std::size_t h = m >> 1;
    for (std::size_t i = 0; i < h; ++i) {
      const ShoupConstant w = roots[h + i];
      std::uint64_t* x = a + 2 * i * t;
      std::uint64_t* y = x + t;
      for (std::size_t j = 0; j < t; ++j) {
        const std::uint64_t u = x[j], v = y[j];
        const std::uint64_t s = u + v;
        x[j] = s >= two_q ? s - two_q : s;
        y[j] = mul_shoup_lazy(u + two_q - v, w, q);
      }
    }
  }
  const ShoupConstant inv_n = tables.inv_degree();
  for (std::size_t i = 0; i < n; ++i) a[i] = mul_shoup(a[i], inv_n, q);
}

void ntt_forward(std::uint64_t* values, const NttTables& tables) noexcept {
  if (tables.supports_ifma() && tables.poly_degree() >= 16 && cpu_has_avx512ifma()) {
    ntt_forward_ifma(values, tables);
  } else if (cpu_has_avx2()) {
    ntt_forward_avx2(values, tables);
  } else {
    ntt_forward_reference(values, tables);
  }
}

void ntt_inverse(std::uint64_t* values, const NttTables& tables) noexcept {
  if (tables.supports_ifma() && tables.poly_degree() >= 16 && cpu_has_avx512ifma()) {
    ntt_inverse_ifma(values, tables);
  } else if (cpu_has_avx2()) {
    ntt_inverse_avx2(values, tables);
  } else {
    ntt_inverse_reference(values, tables);
  }
}

std::vector<std::uint64_t> negacyclic_multiply_schoolbook(const std::vector<std::uint64_t>& a,
                                                          const std::vector<std::uint64_t>& b,
                                                          const Modulus& q) {
  require(a.size() == b.size(), ErrorCode::invalid_argument, "schoolbook operands differ in length");
  const std::size_t n = a.size();
  std::vector<std::uint64_t> out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint64_t p = q.mul(a[i], b[j]);
      const std::size_t k = i + j;
      if (k < n) {
        out[k] = q.add(out[k], p);
      } else {
        out[k - n] = q.sub(out[k - n], p);  // X^N = -1
      }
    }
  }
  return out;
}

std::vector<std::uint32_t> ntt_automorphism_permutation(std::size_t poly_degree, std::uint64_t galois_elt) {
  require(poly_degree >= 2 && (poly_degree & (poly_degree - 1)) == 0, ErrorCode::invalid_argument,
          "degree " + std::to_string(poly_degree) + " is not a power of two");
  require((galois_elt & 1) == 1 && galois_elt < 2 * poly_degree, ErrorCode::invalid_argument,
          "Galois element " + std::to_string(galois_elt) + " is not odd and below 2N");
  const int log_n = __builtin_ctzll(poly_degree);
  const std::uint64_t mask = 2 * poly_degree - 1;
  std::vector<std::uint32_t> perm(poly_degree);
  // Slot bitrev(j) holds a(psi^(2j+1)); a(X^g) there equals a(psi^((2j+1)g)).
  for (std::size_t j = 0; j < poly_degree; ++j) {
    const std::uint64_t exponent = ((2 * j + 1) * galois_elt) & mask;
    const std::uint32_t source = static_cast<std::uint32_t>((exponent - 1) >> 1);
    perm[reverse_bits(static_cast<std::uint32_t>(j), log_n)] = reverse_bits(source, log_n);
  }
  return perm;
}

}  // namespace fhellm::math
