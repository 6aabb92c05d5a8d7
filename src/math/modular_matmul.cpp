#include "math/modular_matmul.h"

#include <string>
#include <vector>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/modular_matmul_simd.h"

namespace fhellm::math {
namespace {

enum class Kernel { scalar, avx2, avx512_vnni };

Kernel kernel() noexcept {
  if (cpu_has_avx512vnni()) return Kernel::avx512_vnni;
  if (cpu_has_avx2()) return Kernel::avx2;
  return Kernel::scalar;
}

void check(std::size_t k, std::size_t n, std::size_t n_begin, std::size_t n_end, std::uint64_t p) {
  if (k == 0 || k > kModularMatmulMaxInputs)
    throw Error(ErrorCode::invalid_argument, "modular_matmul: k = " + std::to_string(k) + " outside 1.." +
                                                 std::to_string(kModularMatmulMaxInputs));
  if (p < 2 || p > kModularMatmulMaxModulus)
    throw Error(ErrorCode::invalid_argument, "modular_matmul: modulus " + std::to_string(p) + " outside 2..2^30");
  if (n_begin > n_end || n_end > n) throw Error(ErrorCode::invalid_argument, "modular_matmul: bad output range");
}

std::size_t round_up(std::size_t v, std::size_t m) { return (v + m - 1) / m * m; }

// Splits the residues into `count` digits of `bits` bits, zero-padded to a
// multiple of `block` per row: plane d, row t at (d * rows + t) * stride.
template <typename Digit>
void split_digits(const std::uint32_t* v, std::size_t rows, std::size_t k, std::uint64_t p, int count, int bits,
                  std::size_t block, std::size_t& stride, std::vector<std::uint8_t>& bytes) {
  stride = round_up(k, block);
  bytes.assign(static_cast<std::size_t>(count) * rows * stride * sizeof(Digit), 0);
  auto* planes = reinterpret_cast<Digit*>(bytes.data());
  const std::uint32_t mask = (std::uint32_t{1} << bits) - 1;
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t i = 0; i < k; ++i) {
      const std::uint32_t x = static_cast<std::uint32_t>(v[t * k + i] % p);
      for (int d = 0; d < count; ++d)
        planes[(static_cast<std::size_t>(d) * rows + t) * stride + i] = static_cast<Digit>((x >> (bits * d)) & mask);
    }
}

void range_scalar(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                  std::size_t n_begin, std::size_t n_end, std::uint64_t p, std::uint32_t* y) {
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t j = n_begin; j < n_end; ++j) {
      // v < 2^30, |w| <= 128, k <= 8192: |sum| < 2^50.
      std::int64_t s = 0;
      for (std::size_t i = 0; i < k; ++i) s += static_cast<std::int64_t>(v[t * k + i] % p) * w[j * k + i];
      const auto m = static_cast<std::int64_t>(p);
      y[t * n + j] = static_cast<std::uint32_t>(((s % m) + m) % m);
    }
}

}  // namespace

void modular_matmul_reference(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w,
                              std::size_t n, std::uint64_t p, std::uint32_t* y) {
  check(k, n, 0, n, p);
  range_scalar(v, rows, k, w, n, 0, n, p, y);
}

ModularRows::ModularRows(const std::uint32_t* v, std::size_t rows, std::size_t k, std::uint64_t p)
    : rows_(rows), k_(k), p_(p), v_(v) {
  check(k, 0, 0, 0, p);
  const Kernel kn = kernel();
  kernel_ = static_cast<int>(kn);
  if (kn == Kernel::avx512_vnni) split_digits<std::uint8_t>(v, rows, k, p, 4, 8, 64, stride_, planes_);
  if (kn == Kernel::avx2) split_digits<std::int16_t>(v, rows, k, p, 2, 15, 16, stride_, planes_);
}

void modular_matmul_range(const ModularRows& m, const std::int8_t* w, std::size_t n, std::size_t n_begin,
                          std::size_t n_end, std::uint32_t* y) {
  check(m.k_, n, n_begin, n_end, m.p_);
  if (m.rows_ == 0 || n_begin == n_end) return;
  const DigitPlanes planes{m.planes_.data(), m.rows_, m.stride_};
  switch (static_cast<Kernel>(m.kernel_)) {
    case Kernel::avx512_vnni: modular_matmul_avx512_vnni(planes, m.k_, w, n_begin, n_end, n, m.p_, y); return;
    case Kernel::avx2: modular_matmul_avx2(planes, m.k_, w, n_begin, n_end, n, m.p_, y); return;
    case Kernel::scalar: range_scalar(m.v_, m.rows_, m.k_, w, n, n_begin, n_end, m.p_, y); return;
  }
}

void modular_matmul_range(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w,
                          std::size_t n, std::size_t n_begin, std::size_t n_end, std::uint64_t p, std::uint32_t* y) {
  check(k, n, n_begin, n_end, p);
  modular_matmul_range(ModularRows(v, rows, k, p), w, n, n_begin, n_end, y);
}

void modular_matmul(const std::uint32_t* v, std::size_t rows, std::size_t k, const std::int8_t* w, std::size_t n,
                    std::uint64_t p, std::uint32_t* y) {
  modular_matmul_range(v, rows, k, w, n, 0, n, p, y);
}

const char* modular_matmul_kernel_name() {
  switch (kernel()) {
    case Kernel::avx512_vnni: return "avx512-vnni";
    case Kernel::avx2: return "avx2";
    case Kernel::scalar: break;
  }
  return "scalar";
}

}  // namespace fhellm::math
