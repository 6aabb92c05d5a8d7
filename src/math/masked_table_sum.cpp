#include "math/masked_table_sum.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fhellm/error.h"
#include "math/cpu_features.h"
#include "math/masked_table_sum_simd.h"

namespace fhellm::math {
namespace {

enum class Kernel { scalar, avx2, avx512 };

Kernel kernel() noexcept {
  if (cpu_has_avx512vnni()) return Kernel::avx512;
  if (cpu_has_avx2()) return Kernel::avx2;
  return Kernel::scalar;
}

void refuse(const std::string& what) { throw Error(ErrorCode::invalid_argument, "masked_table_sum: " + what); }

void check(const MaskedTableArgs& a) {
  if (a.v == nullptr || a.table == nullptr || a.y == nullptr) refuse("null pointer");
  if (a.rows == 0 || a.rows > kMaskedTableMaxRows)
    refuse("rows = " + std::to_string(a.rows) + " outside 1.." + std::to_string(kMaskedTableMaxRows));
  if (a.table_rows == 0 || a.table_rows > kMaskedTableMaxTableRows)
    refuse("table_rows = " + std::to_string(a.table_rows) + " outside 1.." +
           std::to_string(kMaskedTableMaxTableRows));
  if (a.width == 0 || a.width > kMaskedTableMaxWidth)
    refuse("width = " + std::to_string(a.width) + " outside 1.." + std::to_string(kMaskedTableMaxWidth));
  if (a.d_begin > a.d_end || a.d_end > a.width)
    refuse("columns [" + std::to_string(a.d_begin) + ", " + std::to_string(a.d_end) + ") outside [0, " +
           std::to_string(a.width) + ")");
}

// One row at a time, the table read row by row into int64 sums:
// |sum| <= 2^18 * 255 * 128 < 2^34.
void range_scalar(const MaskedTableArgs& a) {
  const std::size_t n = a.d_end - a.d_begin;
  std::vector<std::int64_t> sum(n);
  for (std::size_t t = 0; t < a.rows; ++t) {
    std::fill(sum.begin(), sum.end(), 0);
    const std::uint8_t* vt = a.v + t * a.table_rows;
    for (std::size_t j = 0; j < a.table_rows; ++j) {
      const std::int64_t vj = vt[j];
      const std::int8_t* row = a.table + j * a.width + a.d_begin;
      for (std::size_t d = 0; d < n; ++d) sum[d] += vj * row[d];
    }
    std::uint8_t* yt = a.y + t * a.width + a.d_begin;
    for (std::size_t d = 0; d < n; ++d) yt[d] = static_cast<std::uint8_t>(((sum[d] % 256) + 256) % 256);
  }
}

}  // namespace

void masked_table_sum_range(const std::uint8_t* v, std::size_t rows, const std::int8_t* table,
                            std::size_t table_rows, std::size_t width, std::size_t d_begin, std::size_t d_end,
                            std::uint8_t* y) {
  const MaskedTableArgs a{v, rows, table, table_rows, width, d_begin, d_end, y};
  check(a);
  if (d_begin == d_end) return;
  switch (kernel()) {
    case Kernel::avx512: masked_table_sum_avx512(a); return;
    case Kernel::avx2: masked_table_sum_avx2(a); return;
    case Kernel::scalar: range_scalar(a); return;
  }
}

void masked_table_sum(const std::uint8_t* v, std::size_t rows, const std::int8_t* table, std::size_t table_rows,
                      std::size_t width, std::uint8_t* y) {
  masked_table_sum_range(v, rows, table, table_rows, width, 0, width, y);
}

void masked_table_sum_reference(const std::uint8_t* v, std::size_t rows, const std::int8_t* table,
                                std::size_t table_rows, std::size_t width, std::uint8_t* y) {
  const MaskedTableArgs a{v, rows, table, table_rows, width, 0, width, y};
  check(a);
  range_scalar(a);
}

const char* masked_table_sum_kernel_name() {
  switch (kernel()) {
    case Kernel::avx512: return "avx512";
    case Kernel::avx2: return "avx2";
    case Kernel::scalar: break;
  }
  return "scalar";
}

}  // namespace fhellm::math
