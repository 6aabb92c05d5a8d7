// AVX-512 builds of simple element-wise kernels: the same loops as the
// portable versions, compiled for 8 lanes (vpmuludq, masked adds).
#include <immintrin.h>

#include "poly_arith_simd.h"

namespace fhellm::math {

void lift_signed_avx512(const std::int64_t* __restrict v, std::uint64_t q, std::uint64_t* __restrict out,
                        std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t x = static_cast<std::uint64_t>(v[j]);
    out[j] = x + (v[j] < 0 ? q : 0);  // wraps to q + v for negative v
  }
}

void multiply_accumulate_u64_avx512(const std::uint64_t* __restrict a, const std::uint64_t* __restrict b,
                                    std::uint64_t* __restrict acc, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    acc[i] += static_cast<std::uint64_t>(static_cast<std::uint32_t>(a[i])) * static_cast<std::uint32_t>(b[i]);
  }
}

void multiply_accumulate_split52_ifma(const std::uint64_t* a, const std::uint64_t* b, std::uint64_t* acc_lo,
                                      std::uint64_t* acc_hi, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512i x = _mm512_loadu_si512(a + i), y = _mm512_loadu_si512(b + i);
    _mm512_storeu_si512(acc_lo + i, _mm512_madd52lo_epu64(_mm512_loadu_si512(acc_lo + i), x, y));
    _mm512_storeu_si512(acc_hi + i, _mm512_madd52hi_epu64(_mm512_loadu_si512(acc_hi + i), x, y));
  }
  constexpr std::uint64_t mask52 = (std::uint64_t{1} << 52) - 1;
  for (; i < n; ++i) {
    const unsigned __int128 p = static_cast<unsigned __int128>(a[i]) * b[i];
    acc_lo[i] += static_cast<std::uint64_t>(p) & mask52;
    acc_hi[i] += static_cast<std::uint64_t>(p >> 52);
  }
}

}  // namespace fhellm::math
