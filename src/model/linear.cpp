#include "fhellm/model/linear.h"

#include <cblas.h>

#include "fhellm/model/model.h"

namespace fhellm::model {

std::string linear_name(LinearId id) {
  static const char* const kNames[kLinearKinds] = {"qkv", "attn_out", "mlp_up", "mlp_down", "lm_head"};
  const int kind = static_cast<int>(id.kind);
  const char* name = kind >= 0 && kind < kLinearKinds ? kNames[kind] : "unknown";
  if (id.kind == LinearKind::lm_head) return name;
  return "layers." + std::to_string(id.layer) + "." + name;
}

void matmul_transposed(const float* x, std::size_t rows, std::size_t k, const float* w, std::size_t n,
                       const float* bias, float* y) {
  const auto K = static_cast<blasint>(k), N = static_cast<blasint>(n), R = static_cast<blasint>(rows);
  if (rows == 1) {
    // y = W x: one row is a matrix-vector product.
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x, 1, 0.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
  }
  if (bias != nullptr) {
    for (std::size_t r = 0; r < rows; ++r) {
      float* yr = y + r * n;
      for (std::size_t j = 0; j < n; ++j) yr[j] += bias[j];
    }
  }
}

void FloatLinear::apply(LinearId id, const float* x, std::size_t rows, float* y) {
  const LinearView v = model_.linear(id);
  matmul_transposed(x, rows, v.n_in, v.weight, v.n_out, v.bias, y);
}

}  // namespace fhellm::model
