#include "math/ntt.h"

#include <string>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/primes.h"
#include "ntt32_simd.h"

namespace fhellm::math {

void fill_lane_twiddles32(NttTables32& t) {
  // The inner pass of ntt32_avx2.cpp holds a block of 64 values in eight
  // vectors, in layout R (vector 4 b4 + 2 b3 + b2) or T (vector 4 b4 + 2 b1 + b0)
  // for the offset 32 h + 16 b4 + 8 b3 + 4 b2 + 2 b1 + b0, lane 4 h + sublane
  // (R: sublane 2 b1 + b0; T: 2 b3 + b2). For each butterfly group it reads the
  // twiddles of the x vector's eight lanes (block offset / 2 span), then their
  // Shoup constants.
  const std::size_t n = t.n;
  t.lane_fwd.clear();
  t.lane_inv.clear();
  if (n < 64) return;
  auto put = [&](std::size_t block, int span, bool layout_t, int x_vector, bool forward) {
    const auto& w = forward ? t.roots : t.inv_roots;
    const auto& ws = forward ? t.roots_shoup : t.inv_roots_shoup;
    auto& out = forward ? t.lane_fwd : t.lane_inv;
    std::size_t index[8];
    for (int lane = 0; lane < 8; ++lane) {
      const int h = lane >> 2, sub = lane & 3;
      const int offset = layout_t ? 32 * h + 16 * (x_vector >> 2) + 4 * sub + (x_vector & 3)
                                  : 32 * h + 4 * x_vector + sub;
      index[lane] = n / (2 * span) + (block * 64 + static_cast<std::size_t>(offset)) / (2 * span);
    }
    for (std::size_t i : index) out.push_back(w[i]);
    for (std::size_t i : index) out.push_back(ws[i]);
  };
  for (std::size_t b = 0; b < n / 64; ++b) {
    // Forward: spans 16, 8, 4 in layout R, then 2, 1 in T.
    put(b, 16, false, 0, true);
    for (int x : {0, 4}) put(b, 8, false, x, true);
    for (int x : {0, 2, 4, 6}) put(b, 4, false, x, true);
    for (int x : {0, 4}) put(b, 2, true, x, true);
    for (int x : {0, 2, 4, 6}) put(b, 1, true, x, true);
    // Inverse: the same groups in the opposite order.
    for (int x : {0, 2, 4, 6}) put(b, 1, true, x, false);
    for (int x : {0, 4}) put(b, 2, true, x, false);
    for (int x : {0, 2, 4, 6}) put(b, 4, false, x, false);
    for (int x : {0, 4}) put(b, 8, false, x, false);
    put(b, 16, false, 0, false);
  }
}

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
  if (q.value() < (std::uint64_t{1} << 30)) {
    auto t = std::make_shared<NttTables32>();
    t->n = n_;
    t->q = static_cast<std::uint32_t>(q.value());
    auto shoup32 = [&](std::uint64_t w) { return static_cast<std::uint32_t>((w << 32) / q.value()); };
    for (std::size_t i = 0; i < n_; ++i) {
      t->roots.push_back(static_cast<std::uint32_t>(fwd_values_[i]));
      t->roots_shoup.push_back(shoup32(fwd_values_[i]));
      t->inv_roots.push_back(static_cast<std::uint32_t>(inv_values_[i]));
      t->inv_roots_shoup.push_back(shoup32(inv_values_[i]));
    }
    t->inv_n = static_cast<std::uint32_t>(inv_n_.value);
    t->inv_n_shoup = shoup32(inv_n_.value);
    const std::uint64_t inv_n_root = q.mul(inv_n_.value, inv_values_[1]);
    t->inv_n_root = static_cast<std::uint32_t>(inv_n_root);
    t->inv_n_root_shoup = shoup32(inv_n_root);
    fill_lane_twiddles32(*t);
    tables32_ = std::move(t);
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

namespace {

// The 32-bit AVX2 kernels on a 64-bit array: narrowed into a scratch buffer
// (values < q < 2^30), transformed, widened back.
template <bool Forward>
void ntt_via32_avx2(std::uint64_t* values, const NttTables32& t) noexcept {
  thread_local std::vector<std::uint32_t> scratch;
  scratch.resize(t.n);
  narrow_u64_to_u32_avx2(values, scratch.data(), t.n);
  if constexpr (Forward) ntt_forward_u32_avx2(scratch.data(), t);
  else ntt_inverse_u32_avx2(scratch.data(), t);
  widen_u32_to_u64_avx2(scratch.data(), values, t.n);
}

bool use_avx2_u32(const NttTables& tables) noexcept {
  return tables.tables32() != nullptr && tables.poly_degree() >= 16 && cpu_has_avx2();
}

}  // namespace

void ntt_forward(std::uint64_t* values, const NttTables& tables) noexcept {
  if (tables.supports_ifma() && tables.poly_degree() >= 16 && cpu_has_avx512ifma()) {
    ntt_forward_ifma(values, tables);
  } else if (use_avx2_u32(tables)) {
    ntt_via32_avx2<true>(values, *tables.tables32());
  } else if (cpu_has_avx2()) {
    ntt_forward_avx2(values, tables);
  } else {
    ntt_forward_reference(values, tables);
  }
}

void ntt_inverse(std::uint64_t* values, const NttTables& tables) noexcept {
  if (tables.supports_ifma() && tables.poly_degree() >= 16 && cpu_has_avx512ifma()) {
    ntt_inverse_ifma(values, tables);
  } else if (use_avx2_u32(tables)) {
    ntt_via32_avx2<false>(values, *tables.tables32());
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
