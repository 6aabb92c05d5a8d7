// Internal: the SIMD kernels of masked_table_sum (masked_table_sum.h), on
// arguments the dispatcher has checked (d_begin < d_end <= width).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::math {

// The arguments of one call: v [rows x table_rows], table [table_rows x
// width], y [rows x width], columns [d_begin, d_end).
struct MaskedTableArgs {
  const std::uint8_t* v = nullptr;
  std::size_t rows = 0;
  const std::int8_t* table = nullptr;
  std::size_t table_rows = 0, width = 0, d_begin = 0, d_end = 0;
  std::uint8_t* y = nullptr;
};

// Single-threaded; they allocate the sums of every row (rows x 1 or 2 KB)
// when there are more rows than they keep in registers.
void masked_table_sum_avx2(const MaskedTableArgs& a);
// Needs AVX-512 F/BW + VNNI.
void masked_table_sum_avx512(const MaskedTableArgs& a);

}  // namespace fhellm::math
