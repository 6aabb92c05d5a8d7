// AVX-512 builds of simple element-wise kernels: the same loops as the
// portable versions, compiled for 8 lanes (vpmuludq, masked adds).
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

}  // namespace fhellm::math
