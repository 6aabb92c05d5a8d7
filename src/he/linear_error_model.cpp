#include "he/linear_error_model.h"

#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "he/params.h"

namespace fhellm::he {

std::vector<double> linear_error_std(const LinearPlan& plan, std::span<const std::int8_t> w) {
  const LinearGeometry& geo = plan.geo;
  const std::uint32_t n = geo.shape.out, k = geo.shape.in;
  require(w.size() == std::size_t{n} * k, ErrorCode::invalid_argument,
          "error model: " + std::to_string(w.size()) + " weights for " + std::to_string(n) + " x " + std::to_string(k));
  std::vector<double> out(n, 0.0);
  if (plan.precision != LinearPrecision::standard) return out;  // exact and the masks: no error
  double log_q = 0;
  for (std::uint64_t q : parameter_set(plan.param_id).coeff_modulus) log_q += std::log2(static_cast<double>(q));
  const double delta = std::exp2(log_q - plan.plain_bits);
  std::vector<double> norm2(n, 0.0);  // ||W_j||^2
  for (std::uint32_t j = 0; j < n; ++j)
    for (std::uint32_t i = 0; i < k; ++i) norm2[j] += static_cast<double>(w[std::size_t{j} * k + i]) * w[std::size_t{j} * k + i];
  const LinearNoise& nz = plan.noise;
  // Terms that do not depend on the weights.
  const double fixed = nz.packing + nz.download_body + nz.download_mask + nz.flood;
  // Upload: every output reads the sent coefficients of its weight
  // polynomial's n_w rows (LinearGeometry::sent_positions), each error of
  // variance 10.5 + 4^d / 12, times those rows' weights.
  const int d = plan.upload_drop_bits;
  const double v_upload = 10.5 + (d > 0 ? std::exp2(2.0 * d) / 12.0 : 0.0);
  // Input side: per mask, the key-switch variance the plan counts per unit of
  // folded weight norm; the folded norms of an entry sum to 2^L times the
  // squared norms of the 2^L n_w rows it folds (parallelogram law).
  const double unit_norm = static_cast<double>(geo.chunks) * std::exp2(2.0 * geo.input_levels) *
                           geo.outputs_per_poly * std::min(k, geo.chunk_width) * 128.0 * 128.0;
  const double v_mask = geo.input_levels > 0 ? nz.input_side / unit_norm : 0.0;
  const std::uint32_t n_w = geo.outputs_per_poly, fold = n_w << geo.input_levels;
  for (std::uint32_t j = 0; j < n; ++j) {
    double poly_rows = 0, entry_rows = 0;
    const std::uint32_t first_poly = j / n_w * n_w, first_entry = j / fold * fold;
    for (std::uint32_t r = first_poly; r < std::min(n, first_poly + n_w); ++r) poly_rows += norm2[r];
    for (std::uint32_t r = first_entry; r < std::min(n, first_entry + fold); ++r) entry_rows += norm2[r];
    const double input_side = v_mask * std::exp2(geo.input_levels) * entry_rows;
    out[j] = std::sqrt(fixed + v_upload * poly_rows + input_side) / delta;
  }
  return out;
}

}  // namespace fhellm::he
