#include "model/linear.h"

#include <cblas.h>

#include <algorithm>

#include "fhellm/error.h"
#include "model/model.h"
#include "common/thread_pool.h"
#include "model/gemv.h"

namespace fhellm::model {

std::string linear_name(LinearId id) {
  static const char* const kNames[kLinearKinds] = {"qkv",     "attn_out",        "mlp_up",
                                                    "mlp_down", "lm_head",        "token_embedding",
                                                    "position_embedding"};
  const int kind = static_cast<int>(id.kind);
  const char* name = kind >= 0 && kind < kLinearKinds ? kNames[kind] : "unknown";
  if (id.layer < 0) return name;
  return "layers." + std::to_string(id.layer) + "." + name;
}

void gemv_rows_reference(const float* w, std::size_t k, const float* x, std::size_t i_begin, std::size_t i_end,
                         float* y) {
  for (std::size_t i = i_begin; i < i_end; ++i) {
    float s = 0.0f;
    for (std::size_t j = 0; j < k; ++j) s += w[i * k + j] * x[j];
    y[i] = s;
  }
}

void gemv_rows(const float* w, std::size_t k, const float* x, std::size_t i_begin, std::size_t i_end, float* y) {
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  if (avx2) {
    gemv_rows_avx2(w, k, x, i_begin, i_end, y);
  } else {
    gemv_rows_reference(w, k, x, i_begin, i_end, y);
  }
}

void matmul_transposed(const float* x, std::size_t rows, std::size_t k, const float* w, std::size_t n,
                       const float* bias, float* y) {
  // Small products and single rows (decode) use our own kernel on our own
  // threads: OpenBLAS's thread start-up costs more than a small product, and
  // a matrix-vector product is bound by memory, not by the kernel. Larger
  // multi-row products (prefill) go to OpenBLAS sgemm.
  constexpr std::size_t kSmall = std::size_t{1} << 18;  // multiply-adds
  if (rows == 1 || rows * n * k <= kSmall) {
    const std::size_t min_chunk = std::max<std::size_t>(64, kSmall / (k * rows + 1));
    for (std::size_t r = 0; r < rows; ++r) {
      parallel_for(n, min_chunk, [&](std::size_t begin, std::size_t end) {
        gemv_rows(w, k, x + r * k, begin, end, y + r * n);
      });
    }
  } else {
    const auto K = static_cast<blasint>(k), N = static_cast<blasint>(n), R = static_cast<blasint>(rows);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
  }
  if (bias != nullptr) {
    for (std::size_t r = 0; r < rows; ++r) {
      float* yr = y + r * n;
      for (std::size_t j = 0; j < n; ++j) yr[j] += bias[j];
    }
  }
}

void matmul_transposed_openblas(const float* x, std::size_t rows, std::size_t k, const float* w, std::size_t n,
                                const float* bias, float* y) {
  const auto K = static_cast<blasint>(k), N = static_cast<blasint>(n), R = static_cast<blasint>(rows);
  if (rows == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x, 1, 0.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
  }
  if (bias != nullptr) {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < n; ++j) y[r * n + j] += bias[j];
  }
}

void FloatLinear::apply(LinearId id, const float* x, std::size_t rows, float* y) {
  const LinearView v = model_.linear(id);
  // A model loaded from a client artifact lacks the remote groups' weights.
  if (v.weight == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                "linear layer '" + linear_name(id) + "': this model does not hold its weights (they are on the " +
                    "server): it can only run remotely, in execute mode");
  }
  matmul_transposed(x, rows, v.n_in, v.weight, v.n_out, v.bias, y);
}

}  // namespace fhellm::model
