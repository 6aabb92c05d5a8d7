// Float matrix-vector kernels behind matmul_transposed (internal):
// y[i] = sum_j w[i, j] x[j] for i in [i_begin, i_end).
#pragma once

#include <cstddef>

namespace fhellm::model {

void gemv_rows_reference(const float* w, std::size_t k, const float* x, std::size_t i_begin, std::size_t i_end,
                         float* y);
// AVX2 + FMA (gemv_avx2.cpp); call only when the CPU has both.
void gemv_rows_avx2(const float* w, std::size_t k, const float* x, std::size_t i_begin, std::size_t i_end, float* y);
// The fastest kernel for this CPU.
void gemv_rows(const float* w, std::size_t k, const float* x, std::size_t i_begin, std::size_t i_end, float* y);

}  // namespace fhellm::model
