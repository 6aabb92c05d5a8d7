#include "quant/int_matmul.h"

#include <string>

#include "fhellm/error.h"

namespace fhellm::quant {

// Defined in int_matmul_avx512.cpp (compiled with AVX-512 flags); call only
// when the CPU has AVX-512 VNNI.
void int_matmul_range_avx512_vnni(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w,
                                  std::size_t n, std::size_t n_begin, std::size_t n_end, std::int64_t* acc);

namespace {

void range_scalar(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                  std::size_t n_begin, std::size_t n_end, std::int64_t* acc) {
  for (std::size_t t = 0; t < rows; ++t) {
    const std::uint8_t* xr = x + t * k;
    for (std::size_t i = n_begin; i < n_end; ++i) {
      const std::int8_t* wr = w + i * k;
      std::int32_t s = 0;
      for (std::size_t j = 0; j < k; ++j) s += static_cast<std::int32_t>(xr[j]) * wr[j];
      acc[t * n + i] = s;
    }
  }
}

bool use_vnni() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
  }();
  return yes;
}

}  // namespace

void int_matmul_reference(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                          std::int64_t* acc) {
  // Plain int64 arithmetic, no overflow reasoning needed.
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t i = 0; i < n; ++i) {
      std::int64_t s = 0;
      for (std::size_t j = 0; j < k; ++j) s += static_cast<std::int64_t>(x[t * k + j]) * w[i * k + j];
      acc[t * n + i] = s;
    }
}

void int_matmul_range(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                      std::size_t n_begin, std::size_t n_end, std::int64_t* acc) {
  // Checked per call: build messages only on failure.
  if (k > kMaxIntMatmulInputs) {
    throw Error(ErrorCode::bad_quantization, "int_matmul: " + std::to_string(k) + " inputs exceed the exact limit " +
                                                 std::to_string(kMaxIntMatmulInputs));
  }
  if (n_begin > n_end || n_end > n) throw Error(ErrorCode::invalid_argument, "int_matmul: bad output range");
  if (use_vnni()) {
    int_matmul_range_avx512_vnni(x, rows, k, w, n, n_begin, n_end, acc);
  } else {
    range_scalar(x, rows, k, w, n, n_begin, n_end, acc);
  }
}

void int_matmul(const std::uint8_t* x, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                std::int64_t* acc) {
  int_matmul_range(x, rows, k, w, n, 0, n, acc);
}

const char* int_matmul_kernel_name() { return use_vnni() ? "avx512-vnni" : "scalar"; }

}  // namespace fhellm::quant
