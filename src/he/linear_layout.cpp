#include "he/linear_layout.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>
#include <sstream>

#include "fhellm/error.h"
#include "he/hoisted_galois.h"
#include "math/blocked_product.h"

namespace fhellm::he {
namespace {

bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
int log2_exact(std::uint64_t v) { return 63 - __builtin_clzll(v); }
std::uint32_t ceil_div(std::uint64_t a, std::uint64_t b) { return static_cast<std::uint32_t>((a + b - 1) / b); }

double log2_q(const ParameterSet& ps) {
  double bits = 0;
  for (std::uint64_t q : ps.coeff_modulus) bits += std::log2(static_cast<double>(q));
  return bits;
}
int bit_length(std::uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }
std::size_t packed_bytes(std::size_t count, int bits) { return (count * static_cast<std::size_t>(bits) + 7) / 8; }

// Values carried at each width by one call (the byte padding of each record
// aside): upload body values, reply body values, reply mask values.
struct WidthCounts {
  double upload = 0, body = 0, mask = 0;
  double companion_body = 0;  // a companion plan's companion rows (body: its standard rows)
};
WidthCounts width_counts(const LinearPlan& plan) {
  const LinearGeometry& geo = plan.geo;
  WidthCounts c;
  // The body values the outputs read (LinearGeometry::sent_positions); every
  // output value comes back exactly once (LinearLayout tests).
  const double rows = geo.shape.rows;
  if (geo.rows_per_ct == 1) c.upload = static_cast<double>(plan.call_rows()) * geo.outputs_per_poly * geo.shape.in;
  else c.upload = geo.sub_body() ? rows * geo.shape.in : static_cast<double>(geo.input_cts()) * geo.poly_degree;
  c.body = rows * geo.shape.out;
  if (plan.companion_shift > 0) c.body = c.companion_body = static_cast<double>(plan.call_rows()) * geo.shape.out;
  c.mask = static_cast<double>(plan.mask_count()) * geo.poly_degree;
  return c;
}

}  // namespace

std::string_view linear_precision_name(LinearPrecision p) noexcept {
  switch (p) {
    case LinearPrecision::exact: return "exact";
    case LinearPrecision::mask_pow2: return "mask-pow2";
    case LinearPrecision::mask_odd: return "mask-odd";
    case LinearPrecision::mask_table: return "mask-table";
    default: return "default";
  }
}

bool linear_is_mask_precision(LinearPrecision p) noexcept {
  return p == LinearPrecision::mask_pow2 || p == LinearPrecision::mask_odd || p == LinearPrecision::mask_table;
}

std::uint32_t linear_max_in(LinearPrecision p) noexcept {
  return p == LinearPrecision::mask_table ? kLinearMaxTableIn : kLinearMaxIn;
}

LinearPrecision linear_encoding_precision(LinearPrecision p) noexcept {
  return p == LinearPrecision::mask_pow2 || p == LinearPrecision::mask_odd || p == LinearPrecision::exact
             ? LinearPrecision::standard
             : p;
}

OnlineModulus linear_online_modulus(std::uint32_t in) {
  require(in >= 1 && in <= kLinearMaxIn, ErrorCode::invalid_argument,
          "online modulus: k = " + std::to_string(in) + " outside 1.." + std::to_string(kLinearMaxIn));
  // The online rows are centred, X - 128 in [-128, 127], and the weights are
  // symmetric int8 in [-127, 127]: |X' W^T| <= k 128 127.
  const std::uint64_t span = 2 * kOnlineMaxAbsWeight * 128 * std::uint64_t{in} + 1;
  OnlineModulus m;
  m.pow2 = std::uint64_t{1} << ((bit_length(span) + 1) / 2);
  m.odd = (span + m.pow2 - 1) / m.pow2;
  m.odd |= 1;  // odd: coprime with the power of two
  if (m.odd < 3) m.odd = 3;
  m.p = m.pow2 * m.odd;
  m.bits = bit_length(m.p - 1);
  return m;
}

LinearPrecision parse_linear_precision(std::string_view name) {
  if (name == "exact") return LinearPrecision::exact;
  if (name == "default" || name == "standard") return LinearPrecision::standard;
  throw Error(ErrorCode::invalid_argument, "unknown precision '" + std::string(name) + "' (exact|default)");
}

LinearGeometry LinearGeometry::make(LinearShape shape, std::uint32_t poly_degree, std::uint32_t chunk_width,
                                    std::uint32_t rows_per_ct, int input_levels) {
  // k up to a table's rows: the callers hold the tighter limit of their precision (linear_max_in).
  require(shape.rows >= 1 && shape.rows <= kLinearMaxEvaluatedRows && shape.in >= 1 && shape.in <= kLinearMaxTableIn &&
              shape.out >= 1 && shape.out <= kLinearMaxOut,
          ErrorCode::invalid_argument,
          "linear shape T=" + std::to_string(shape.rows) + " k=" + std::to_string(shape.in) +
              " n=" + std::to_string(shape.out) + " outside 1..1024 x 1..262144 x 1..131072");
  require(is_pow2(poly_degree) && poly_degree >= 4 && is_pow2(chunk_width) && is_pow2(rows_per_ct) &&
              std::uint64_t{chunk_width} * rows_per_ct <= poly_degree,
          ErrorCode::invalid_argument,
          "linear layout N=" + std::to_string(poly_degree) + " k_w=" + std::to_string(chunk_width) +
              " T_w=" + std::to_string(rows_per_ct) + " is not a power-of-two split of N");
  LinearGeometry g;
  g.shape = shape;
  g.poly_degree = poly_degree;
  g.chunk_width = chunk_width;
  g.rows_per_ct = rows_per_ct;
  g.outputs_per_poly = poly_degree / (chunk_width * rows_per_ct);
  g.chunks = ceil_div(shape.in, chunk_width);
  g.row_groups = ceil_div(shape.rows, rows_per_ct);
  g.sparse_per_group = ceil_div(shape.out, g.outputs_per_poly);
  g.packed_per_group = ceil_div(g.sparse_per_group, chunk_width);
  g.log_chunk = log2_exact(chunk_width);
  require(input_levels >= 0 && input_levels <= g.log_chunk, ErrorCode::invalid_argument,
          "linear layout: input levels " + std::to_string(input_levels) + " outside 0..log2(k_w)");
  g.input_levels = input_levels;
  return g;
}

std::uint32_t LinearGeometry::sparse_in_packed(std::uint32_t p) const noexcept {
  const std::uint32_t first = p * chunk_width;
  return std::min(chunk_width, sparse_per_group - first);
}

std::size_t LinearGeometry::tree_key_switches(std::uint32_t count) const noexcept {
  // Level j merges entries i and i + k_w/2^j; an entry exists once either half
  // holds a sparse result, and every existing entry needs one automorphism.
  std::size_t total = 0;
  // Entries at level L are 0..live-1 of k_w/2^L; level j merges i and i + k_w/2^j.
  const std::uint64_t masks = std::uint64_t{1} << input_levels;
  std::uint64_t live = (count + masks - 1) / masks;  // entries 0..live-1 (slot_of_sparse)
  for (int j = input_levels + 1; j <= log_chunk; ++j) {
    const std::uint64_t half = chunk_width >> j;
    const std::uint64_t merged = std::min<std::uint64_t>(live, half);
    total += merged;
    live = merged;
  }
  return total;
}

std::uint32_t LinearGeometry::row_entries() const noexcept {
  std::uint32_t total = 0;
  for (std::uint32_t p = 0; p < packed_per_group; ++p) total += live_entries(p);
  return total;
}

std::size_t LinearGeometry::packed_cts() const noexcept {
  if (rows_per_ct != 1) return std::size_t{row_groups} * packed_per_group;
  const std::size_t entries = std::size_t{row_groups} * row_entries(), per = entries_per_packed();
  return (entries + per - 1) / per;
}

std::uint32_t LinearGeometry::packed_entries(std::size_t f) const noexcept {
  if (rows_per_ct != 1) return live_entries(static_cast<std::uint32_t>(f % packed_per_group));
  const std::size_t entries = std::size_t{row_groups} * row_entries(), per = entries_per_packed();
  return static_cast<std::uint32_t>(std::min(per, entries - f * per));
}

std::size_t LinearGeometry::tree_merges(std::uint32_t entries) const noexcept {
  // Level j merges slots i and i + k_w / 2^j; a slot exists once either half
  // holds an entry, and every existing slot needs one automorphism. The live
  // entries sit in the slots slot_of_entry(0..entries-1), so each level pairs
  // them up: ceil(live / 2) merges.
  std::size_t total = 0;
  std::uint64_t live = entries;
  for (int j = input_levels + 1; j <= log_chunk; ++j) {
    live = (live + 1) / 2;
    total += live;
  }
  return total;
}

std::optional<LinearGeometry::Cell> LinearGeometry::packed_cell(std::size_t f, std::uint32_t pos) const noexcept {
  if (rows_per_ct != 1)
    return packed_cell(static_cast<std::uint32_t>(f / packed_per_group), static_cast<std::uint32_t>(f % packed_per_group),
                       pos);
  if (pos >= poly_degree) return std::nullopt;
  // pos = r k_w + slot (T_w = 1); slot = t E + e_slot holds sparse result t of
  // the entry in slot e_slot (slot_of_sparse).
  const std::uint32_t per = entries_per_packed(), r = pos >> log_chunk, slot = pos & (chunk_width - 1);
  const std::uint32_t t = slot / per, e_slot = slot % per;
  const std::uint64_t global = std::uint64_t{f} * per + slot_of_entry(e_slot), per_row = row_entries();
  const std::uint64_t row = global / per_row, entry = global % per_row;
  const std::uint64_t sparse = (entry << input_levels) + t, col = sparse * outputs_per_poly + r;
  if (row >= shape.rows || sparse >= sparse_per_group || col >= shape.out) return std::nullopt;
  return Cell{static_cast<std::uint32_t>(row), static_cast<std::uint32_t>(col)};
}

std::vector<std::uint32_t> LinearGeometry::used_positions(std::size_t f) const {
  if (rows_per_ct != 1)
    return used_positions(static_cast<std::uint32_t>(f / packed_per_group),
                          static_cast<std::uint32_t>(f % packed_per_group));
  std::vector<std::uint32_t> out;
  for (const UsedCell& u : used_cells(f)) out.push_back(u.pos);  // O(used), not N tests with divisions
  return out;
}

std::vector<LinearGeometry::UsedCell> LinearGeometry::used_cells(std::size_t f) const {
  std::vector<UsedCell> out;
  if (rows_per_ct != 1) {
    for (std::uint32_t pos : used_positions(f)) out.push_back({pos, *packed_cell(f, pos)});
    return out;
  }
  // packed_cell's T_w = 1 case with its divisions hoisted: pos = r k_w + t
  // E + e_slot, where (row, entry) depend on e_slot only.
  const std::uint32_t per = entries_per_packed(), units = poly_degree >> log_chunk;
  const std::uint64_t per_row = row_entries();
  std::vector<std::uint64_t> row(per), entry(per);
  for (std::uint32_t e = 0; e < per; ++e) {  // e: the tree slot
    const std::uint64_t global = std::uint64_t{f} * per + slot_of_entry(e);
    row[e] = global / per_row;
    entry[e] = global % per_row;
  }
  for (std::uint32_t r = 0; r < units; ++r)
    for (std::uint32_t t = 0; t * per < chunk_width; ++t)
      for (std::uint32_t e = 0; e < per && t * per + e < chunk_width; ++e) {
        const std::uint64_t sparse = (entry[e] << input_levels) + t, col = sparse * outputs_per_poly + r;
        if (row[e] >= shape.rows || sparse >= sparse_per_group || col >= shape.out) continue;
        out.push_back({(r << log_chunk) + t * per + e, Cell{static_cast<std::uint32_t>(row[e]), static_cast<std::uint32_t>(col)}});
      }
  return out;
}

std::size_t LinearGeometry::used_count(std::size_t f) const noexcept {
  if (rows_per_ct != 1)
    return used_count(static_cast<std::uint32_t>(f / packed_per_group), static_cast<std::uint32_t>(f % packed_per_group));
  // Per live slot: its entry's sparse results that exist, times their outputs
  // that exist (packed_cell's conditions, counted in O(E 2^L)).
  const std::uint64_t per = entries_per_packed(), per_row = row_entries();
  std::size_t total = 0;
  for (std::uint32_t e_slot = 0; e_slot < packed_entries(f); ++e_slot) {
    const std::uint64_t entry = (f * per + e_slot) % per_row;
    for (std::uint64_t t = 0; t < (std::uint64_t{1} << input_levels); ++t) {
      const std::uint64_t sparse = (entry << input_levels) + t;
      if (sparse >= sparse_per_group) break;
      total += std::min<std::uint64_t>(outputs_per_poly, shape.out - sparse * outputs_per_poly);
    }
  }
  return total;
}

std::optional<LinearGeometry::Cell> LinearGeometry::packed_cell(std::uint32_t g, std::uint32_t p,
                                                                std::uint32_t pos) const noexcept {
  if (pos >= poly_degree) return std::nullopt;
  const std::uint32_t i = sparse_of_slot(pos & (chunk_width - 1));
  const std::uint32_t u = pos >> log_chunk;
  const std::uint32_t r = u / rows_per_ct;
  const std::uint32_t t = u % rows_per_ct;
  const std::uint64_t row = std::uint64_t{g} * rows_per_ct + t;
  const std::uint64_t sparse = std::uint64_t{p} * chunk_width + i;
  const std::uint64_t col = sparse * outputs_per_poly + r;
  if (row >= shape.rows || sparse >= sparse_per_group || col >= shape.out) return std::nullopt;
  return Cell{static_cast<std::uint32_t>(row), static_cast<std::uint32_t>(col)};
}

std::vector<std::uint32_t> LinearGeometry::used_positions(std::uint32_t g, std::uint32_t p) const {
  // Ascending pos = u k_w + slot with u = r T_w + t: enumerate the cells that
  // exist (packed_cell's conditions) instead of testing all N positions.
  std::vector<std::uint32_t> out;
  const std::uint64_t first_sparse = std::uint64_t{p} * chunk_width;
  if (first_sparse >= sparse_per_group) return out;
  const std::uint64_t sparse_left = sparse_per_group - first_sparse;
  const std::uint32_t slots = poly_degree >> log_chunk;  // n_w T_w
  for (std::uint32_t u = 0; u < slots; ++u) {
    const std::uint32_t r = u / rows_per_ct, t = u % rows_per_ct;
    if (std::uint64_t{g} * rows_per_ct + t >= shape.rows || r >= shape.out) continue;
    // col = (first_sparse + i) * n_w + r < n  <=>  i < ceil((n - r) / n_w) - first_sparse.
    const std::uint64_t cols = (std::uint64_t{shape.out} - r + outputs_per_poly - 1) / outputs_per_poly;
    if (cols <= first_sparse) continue;
    const std::uint64_t count = std::min<std::uint64_t>({chunk_width, sparse_left, cols - first_sparse});
    if (input_levels == 0) {
      for (std::uint64_t i = 0; i < count; ++i) out.push_back(static_cast<std::uint32_t>(u * chunk_width + i));
    } else {
      for (std::uint32_t slot = 0; slot < chunk_width; ++slot)
        if (sparse_of_slot(slot) < count) out.push_back(u * chunk_width + slot);
    }
  }
  return out;
}

std::size_t LinearGeometry::used_count(std::uint32_t g, std::uint32_t p) const noexcept {
  // The same enumeration as used_positions, counting instead of listing.
  const std::uint64_t first_sparse = std::uint64_t{p} * chunk_width;
  if (first_sparse >= sparse_per_group) return 0;
  const std::uint64_t sparse_left = sparse_per_group - first_sparse;
  const std::uint32_t slots = poly_degree >> log_chunk;
  std::size_t total = 0;
  for (std::uint32_t u = 0; u < slots; ++u) {
    const std::uint32_t r = u / rows_per_ct, t = u % rows_per_ct;
    if (std::uint64_t{g} * rows_per_ct + t >= shape.rows || r >= shape.out) continue;
    const std::uint64_t cols = (std::uint64_t{shape.out} - r + outputs_per_poly - 1) / outputs_per_poly;
    if (cols <= first_sparse) continue;
    total += std::min<std::uint64_t>({chunk_width, sparse_left, cols - first_sparse});
  }
  return total;
}

std::vector<std::uint32_t> LinearGeometry::sent_positions(std::uint32_t g, std::uint32_t c) const {
  std::vector<std::uint32_t> out;
  if (rows_per_ct == 1) {
    // Output r' k_w reads input r' k_w - (r k_w - j) = (r' - r) k_w + j (mod N,
    // with the negacyclic sign) for every row r < n_w and column j < cols of
    // the chunk: the first `cols` coefficients of every block of k_w.
    const std::uint32_t cols = std::min<std::uint32_t>(chunk_width, shape.in - c * chunk_width);
    out.reserve(std::size_t{outputs_per_poly} * cols);
    for (std::uint32_t m = 0; m < outputs_per_poly; ++m)
      for (std::uint32_t j = 0; j < cols; ++j) out.push_back(m * chunk_width + j);
    return out;
  }
  if (!sub_body()) {
    out.resize(poly_degree);
    for (std::uint32_t pos = 0; pos < poly_degree; ++pos) out[pos] = pos;
    return out;
  }
  for (std::uint32_t t = 0; t < rows_per_ct; ++t) {
    if (std::uint64_t{g} * rows_per_ct + t >= shape.rows) break;
    for (std::uint32_t j = 0; j < chunk_width; ++j) {
      if (std::uint64_t{c} * chunk_width + j >= shape.in) break;
      out.push_back(input_coeff(t, j));
    }
  }
  return out;
}

std::size_t LinearGeometry::weight_polys() const noexcept {
  std::size_t entries = 0;
  for (std::uint32_t p = 0; p < packed_per_group; ++p) entries += live_entries(p);
  return entries * chunks * (std::size_t{1} << input_levels);
}

int linear_input_decomposition_bits(ParamId id) noexcept { return id == ParamId::n2048_q54 ? 6 : 0; }

int linear_sequential_decomposition_bits(ParamId id) noexcept { return id == ParamId::n2048_q54 ? 5 : 0; }

GadgetBase linear_input_gadget_base(ParamId id) noexcept {
  return id == ParamId::n2048_q54 ? GadgetBase::composed : GadgetBase::per_prime;
}

bool linear_shared_mask_available(ParamId id) noexcept { return id == ParamId::n2048_q54; }

double key_switch_variance(ParamId id, const Gadget& gadget) noexcept {
  // Sum over digits of d e: d uniform in [-2^(w-1), 2^(w-1)) (variance
  // 4^w / 12), e binomial (kErrorVariance), over N coefficients.
  const ParameterSet& ps = parameter_set(id);
  return static_cast<double>(gadget_digit_count(ps, gadget)) * static_cast<double>(ps.poly_degree) *
         std::exp2(2.0 * gadget.bits) / 12.0 * kErrorVariance;
}

bool linear_composed_packing_available(ParamId id) noexcept { return id == ParamId::n2048_q54; }

Gadget linear_packing_gadget(ParamId id, int privacy_bits) noexcept {
  // 18-bit digits of the composed coefficient: one key switch's variance is
  // 3 N 4^18 / 12 sigma^2 (1.8e12 -> 3.5e14 against four 14-bit digits), a
  // k_w = 1024, L = 5 tree's 341 times that: 1.2e17, far below the ~1e21 the
  // default plans allow (section 5), so no width moves.
  if (linear_composed_packing_available(id) && privacy_bits == 0) return Gadget{18, GadgetBase::composed};
  return Gadget{linear_decomposition_bits(id), GadgetBase::per_prime};
}

int linear_decomposition_bits(ParamId id) noexcept {
  // n4096_q108 has 2^60 of headroom above any noise of the packing tree
  // (exact plans need < 2^80): one digit per 36-bit prime halves its keys.
  // n2048_q54: 14 bits, two digits per 27-bit prime (the tree noise of one
  // node per level leaves room for it in the default precision).
  if (id == ParamId::n2048_q54) return 14;
  return id == ParamId::n4096_q108 ? 36 : parameter_set(id).default_decomposition_bits;
}

std::vector<std::uint64_t> linear_input_galois_elements(std::size_t poly_degree) {
  return composed_galois_elements(poly_degree, kLinearHoistedLevels);
}

std::vector<std::uint64_t> linear_sequential_galois_elements(std::size_t poly_degree) {
  std::vector<std::uint64_t> out;
  // j = 6..9 for the split point's sequential levels; j = 10, 11 (N = 2048)
  // too for the embedding lookup's query expansion (X -> X^(N / 2^l + 1)).
  for (int j = kLinearHoistedLevels + 1; (std::size_t{1} << j) <= poly_degree; ++j)
    out.push_back((std::uint64_t{1} << j) + 1);
  return out;
}

double LinearNoise::bound() const {
  // Every term is (strictly) sub-Gaussian with its variance as proxy, so
  // z * sqrt(total) bounds the sum except with probability 2 exp(-z^2/2).
  // The body rounding is also bounded by body_bound outright, which is the
  // better bound when it dominates.
  const double gaussian = z * std::sqrt(total());
  if (body_bound <= 0) return gaussian;
  return std::min(gaussian, body_bound + z * std::sqrt(total() - download_body));
}

std::int64_t linear_max_abs_output(std::uint32_t in, bool input_signed) noexcept {
  return static_cast<std::int64_t>(in) * (input_signed ? 128 : 255) * 128;
}

std::size_t LinearPlan::bytes_up() const noexcept {
  std::size_t bytes = 48;
  for (std::uint32_t g = 0; g < call_row_groups(); ++g)
    for (std::uint32_t c = 0; c < geo.chunks; ++c) {
      // Sub-body: one value per input of the group's rows and the chunk's columns.
      const std::size_t rows = std::min<std::size_t>(geo.rows_per_ct, geo.shape.rows - std::size_t{g} * geo.rows_per_ct);
      const std::size_t cols = std::min<std::size_t>(geo.chunk_width, geo.shape.in - std::size_t{c} * geo.chunk_width);
      const std::size_t sent = geo.rows_per_ct == 1 ? geo.outputs_per_poly * cols
                               : geo.sub_body()      ? rows * cols
                                                     : geo.poly_degree;
      bytes += 32 + (sent * static_cast<std::size_t>(upload_bits) + 7) / 8;
    }
  return bytes;
}

std::size_t LinearPlan::bytes_down() const noexcept {
  const std::size_t mask = packed_bytes(geo.poly_degree, mask_bits);
  std::size_t bytes = 48;
  const std::size_t total = geo.packed_cts();
  for (std::size_t f = 0; f < total; ++f) {
    bytes += mask_group(f).first == f ? mask : 0;
    if (companion_shift == 0) {
      bytes += packed_bytes(geo.used_count(f), body_bits);
      continue;
    }
    // Each kind of row at its own width (ReplyWriter::write_bodies).
    std::size_t companions = 0;
    const auto cells = geo.used_cells(f);
    for (const LinearGeometry::UsedCell& u : cells) companions += is_companion_row(u.cell.row) ? 1 : 0;
    bytes += packed_bytes(cells.size() - companions, body_bits) + packed_bytes(companions, companion_body_bits);
  }
  return bytes;
}

LinearPlan::MaskGroup LinearPlan::mask_group(std::size_t f) const noexcept {
  if (!shared_mask) return {f, 1};
  const std::size_t total = geo.packed_cts();
  const std::size_t first = f - f % kLinearSharedMaskGroup;
  return {first, std::min(kLinearSharedMaskGroup, total - first)};
}

std::size_t LinearPlan::mask_count() const noexcept {
  const std::size_t total = geo.packed_cts();
  return shared_mask ? (total + kLinearSharedMaskGroup - 1) / kLinearSharedMaskGroup : total;
}

std::size_t LinearPlan::weight_bytes() const noexcept {
  // Sets whose primes are below 2^27: 27-bit fields, units of 16 slots in
  // math::kPackedUnitBytes = 54 bytes (EncodedWeights' blocked units); other
  // sets 8 bytes per slot and prime.
  const auto& primes = parameter_set(param_id).coeff_modulus;
  const bool narrow = std::all_of(primes.begin(), primes.end(), [](std::uint64_t q) { return q < (1ull << 27); });
  const std::size_t slots = geo.weight_polys() * geo.poly_degree * primes.size();
  return narrow ? slots / math::kSlotBlock * math::kPackedUnitBytes : slots * 8;
}

std::size_t LinearPlan::products() const noexcept {
  // One per encoded weight polynomial and row group (with a split point, every
  // live entry takes all 2^L folded polynomials, even for missing results).
  return std::size_t{geo.row_groups} * geo.weight_polys();
}

std::size_t LinearPlan::key_switches() const noexcept {
  std::size_t tree = 0;
  if (geo.rows_per_ct == 1) {
    for (std::size_t f = 0; f < geo.packed_cts(); ++f) tree += geo.tree_merges(geo.packed_entries(f));
  } else {
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) tree += geo.tree_key_switches(geo.sparse_in_packed(p));
    tree *= geo.row_groups;
  }
  return tree + geo.input_key_switches();
}

double LinearPlan::server_ms_model() const noexcept {
  // Single-core time of the server's call, from the costs of its steps
  // measured on the AVX2 development machine (AMD EPYC, N = 2048 with two
  // 27-bit primes: build/bench/fhellm_bench_he and fhellm_bench_math):
  //   NTT of one polynomial and prime, 32-bit kernels        10 us
  //   ciphertext x plaintext product (2 polys x 2 primes)     3.4 us
  //   packing-tree step (NTT form): 43 us + 25 us per digit  143 us at 4 digits (118 at the composed 3)
  //   hoisted decomposition of an input ct, per digit         25 us
  //   hoisted automorphism (streams its key)                  60 us
  //   reply: from NTT, re-randomize, flood, switch modulus   250 us per packed ct
  // Other rings and primes scale with N log N, the number of primes and the
  // word size (64-bit kernels ~3.7x slower). Used to rank plans, so both sides
  // must compute it identically: constants, not measurements.
  const ParameterSet& ps = parameter_set(param_id);
  const double n = static_cast<double>(geo.poly_degree);
  const double primes = static_cast<double>(ps.coeff_modulus.size());
  const bool narrow = std::all_of(ps.coeff_modulus.begin(), ps.coeff_modulus.end(),
                                  [](std::uint64_t q) { return q < (std::uint64_t{1} << 30); });
  const double size = (n * std::log2(n)) / (2048.0 * 11.0);  // relative to N = 2048
  const double word = narrow ? 1.0 : 3.7;
  const double unit = size * word * primes / 2.0;              // this ring's cost per N=2048 2-prime unit
  const double digits = static_cast<double>(gadget_digit_count(ps, packing_gadget()));
  const double product_us = 3.4 * (n / 2048.0) * (primes / 2.0) * (narrow ? 1.0 : 2.0);
  const double tree_us = (43.0 + 25.0 * digits) * unit;
  const double reply_us = 250.0 * unit;
  const double input_us = 20.0 * unit;  // the body to NTT form
  double us = static_cast<double>(products()) * product_us +
              static_cast<double>(key_switches() - geo.input_key_switches()) * tree_us +
              static_cast<double>(geo.packed_cts()) * reply_us + static_cast<double>(geo.input_cts()) * input_us;
  if (geo.input_levels > 0) {
    // 2^X bases by X sequential key switches each doubling them, then per
    // base one hoisted decomposition and its hoisted automorphisms.
    const double in_digits = static_cast<double>(
        gadget_digit_count(ps, Gadget{input_decomposition_bits, linear_input_gadget_base(param_id)}));
    const double bases = std::exp2(geo.sequential_levels());
    const double seq_digits =
        static_cast<double>(gadget_digit_count(ps, linear_sequential_gadget(param_id)));
    const double sequential_us = (bases - 1) * (43.0 + 25.0 * seq_digits) * unit;
    us += static_cast<double>(geo.input_cts()) * (sequential_us + bases * 25.0 * in_digits * unit) +
          static_cast<double>(geo.input_cts()) * (std::exp2(geo.input_levels) - bases) * 60.0 * unit;
  }
  return us * 1e-3;
}

namespace {

void require_privacy_bits(int bits) {
  require(bits >= 0 && bits <= kLinearMaxPrivacyBits, ErrorCode::invalid_argument,
          "weight privacy of " + std::to_string(bits) + " bits, expected 0.." + std::to_string(kLinearMaxPrivacyBits));
}

// One kind of evaluated row: its noise terms (allowance, packing and input
// side set; the widths' terms and the flood written here) and the factor on
// its upload variance.
struct RowKind {
  LinearNoise* noise;
  double upload_factor;
  bool companion = false;  // its values at companion_body_bits
};

// The widths with the fewest bytes whose noise holds every kind's bound:
// sets body_bits, mask_bits, upload_drop_bits and every kind's upload,
// rounding and flood terms. False when no width holds.
bool choose_widths(LinearPlan& plan, const std::vector<RowKind>& kinds, double gain, double hidden_fixed,
                   double flood_factor, double q, int q_bits) {
  const double n = plan.geo.poly_degree;
  const double s_norm2 = 2.0 * n / 3.0;  // E ||s||^2 for a uniform ternary secret
  const WidthCounts counts = width_counts(plan);
  const int max_bits = std::min(q_bits, 60);  // the wire carries at most 60 bits per value
  // A companion row's values have their own width cb (the loop over it is
  // one step long without companion rows).
  const bool two_widths = std::any_of(kinds.begin(), kinds.end(), [](const RowKind& k) { return k.companion; });
  const int cb_first = two_widths ? 2 : 0, cb_last = two_widths ? max_bits : 0;
  // Per kind, its body width w and the mask width mb: the largest upload
  // variance either form of the bound admits (LinearNoise::bound), the flood
  // growing with it: (1 + 4^S) times the hidden terms must fit in what the
  // rounding leaves, over the kind's upload factor. Computed once per pair:
  // the search below meets each pair up to max_bits times (exact plans took
  // ~30 ms a layer when it was recomputed there, a first call's stall).
  const std::size_t widths = static_cast<std::size_t>(max_bits) + 1;
  const auto pair = [&](int w, int mb) { return static_cast<std::size_t>(w) * widths + static_cast<std::size_t>(mb); };
  std::vector<std::vector<double>> admitted(kinds.size(), std::vector<double>(widths * widths, 0.0));
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const RowKind& k = kinds[i];
    const LinearNoise& nz = *k.noise;
    const double budget = std::pow(nz.allowed / nz.z, 2);
    for (int w = 2; w <= max_bits; ++w) {
      const double body_step = q / std::exp2(w);
      const double v_body = body_step * body_step / 12.0;
      for (int mb = 2; mb <= max_bits; ++mb) {
        const double mask_step = q / std::exp2(mb);
        const double v_mask = mask_step * mask_step / 12.0 * s_norm2;
        double kind_left = (budget - v_body - v_mask) / (1.0 + flood_factor) - hidden_fixed;
        if (nz.allowed > body_step / 2) {
          const double rest = (nz.allowed - body_step / 2) / nz.z;
          kind_left = std::max(kind_left, (rest * rest - v_mask) / (1.0 + flood_factor) - hidden_fixed);
        }
        admitted[i][pair(w, mb)] = kind_left / k.upload_factor;
      }
    }
  }
  double best_bits = std::numeric_limits<double>::infinity();
  for (int b = 2; b <= max_bits; ++b) {
    for (int cb = cb_first; cb <= cb_last; ++cb) {
      for (int mb = 2; mb <= max_bits; ++mb) {
        // The smallest over the kinds.
        double left = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < kinds.size(); ++i)
          left = std::min(left, admitted[i][pair(kinds[i].companion ? cb : b, mb)]);
        if (left <= gain * kErrorVariance) continue;
        // The fewest bits this (b, cb, mb) can reach (d <= q_bits - 8): no
        // better than the best so far, it is not worth the logarithm.
        const double fixed_bits = counts.body * b + counts.companion_body * cb + counts.mask * mb;
        if (counts.upload * 8 + fixed_bits >= best_bits) continue;
        int d = static_cast<int>(std::floor(0.5 * std::log2((left / gain - kErrorVariance) * 12.0)));
        d = std::min(d, q_bits - 8);
        d = std::max(d, std::max(0, q_bits - 60));
        const double bits =
            counts.upload * (q_bits - d) + counts.body * b + counts.companion_body * cb + counts.mask * mb;
        if (bits < best_bits) {
          best_bits = bits;
          plan.body_bits = b;
          plan.companion_body_bits = cb;
          plan.mask_bits = mb;
          plan.upload_drop_bits = d;
        }
      }
    }
  }
  if (!std::isfinite(best_bits)) return false;
  plan.upload_bits = q_bits - plan.upload_drop_bits;
  const double mask_step = q / std::exp2(plan.mask_bits);
  const int d = plan.upload_drop_bits;
  for (const RowKind& k : kinds) {
    const double body_step = q / std::exp2(k.companion ? plan.companion_body_bits : plan.body_bits);
    LinearNoise& nz = *k.noise;
    nz.download_body = body_step * body_step / 12.0;
    nz.body_bound = body_step / 2;
    nz.download_mask = mask_step * mask_step / 12.0 * s_norm2;
    nz.upload = k.upload_factor * gain * (kErrorVariance + (d > 0 ? std::exp2(2.0 * d) / 12.0 : 0.0));
    nz.flood = flood_factor * (nz.upload + hidden_fixed);
    if (nz.bound() > nz.allowed) return false;
  }
  return true;
}

}  // namespace

namespace {

// plan_linear_with for one companion shift: `shift_drop` below the largest
// (exact plans; 0 otherwise).
std::optional<LinearPlan> plan_at_shift(LinearShape shape, LinearPrecision precision, bool input_signed, ParamId id,
                                        std::uint32_t chunk_width, std::uint32_t rows_per_ct, int input_levels,
                                        int privacy_bits, int shift_drop) {
  const ParameterSet& ps = parameter_set(id);
  if (input_levels > 0 && linear_input_decomposition_bits(id) == 0) return std::nullopt;
  LinearPlan plan;
  // Exact: every call row is evaluated twice (LinearPlan::companion_shift).
  const bool companion = precision == LinearPrecision::exact;
  if (companion && rows_per_ct != 1) return std::nullopt;
  LinearShape evaluated = shape;
  if (companion) evaluated.rows = 2 * shape.rows;
  plan.geo = LinearGeometry::make(evaluated, static_cast<std::uint32_t>(ps.poly_degree), chunk_width, rows_per_ct,
                                  input_levels);
  // The session keys cover levels 2^j + 1, j <= 9 (linear_layout.h).
  if (input_levels > 0 &&
      input_levels + plan.geo.log_degree_over_chunk() > kLinearHoistedLevels + kLinearSequentialLevels)
    return std::nullopt;
  plan.input_decomposition_bits = input_levels > 0 ? linear_input_decomposition_bits(id) : 0;
  plan.param_id = id;
  plan.precision = precision;
  plan.input_signed = input_signed;
  plan.privacy_bits = privacy_bits;
  plan.decomposition_bits = linear_packing_gadget(id, privacy_bits).bits;
  plan.packing_base = linear_packing_gadget(id, privacy_bits).base;
  plan.max_abs_output = linear_max_abs_output(shape.in, input_signed);
  const bool mask = linear_is_mask_precision(precision);
  if (mask && input_signed) return std::nullopt;  // masks are residues in [0, t)
  if (precision == LinearPrecision::mask_table) {
    plan.plain_modulus = kOnlineTableModulus;
    plan.plain_bits = bit_length(plan.plain_modulus);
  } else if (mask) {
    const OnlineModulus om = linear_online_modulus(shape.in);
    plan.plain_modulus = precision == LinearPrecision::mask_pow2 ? om.pow2 : om.odd;
    plan.plain_bits = bit_length(plan.plain_modulus);
  } else {
    plan.plain_bits = bit_length(static_cast<std::uint64_t>(2 * plan.max_abs_output + 1));
    plan.plain_modulus = std::uint64_t{1} << plan.plain_bits;
  }

  const double lq = log2_q(ps);
  const int q_bits = static_cast<int>(std::ceil(lq));
  const double q = std::exp2(lq);
  const double n = static_cast<double>(ps.poly_degree);
  const double delta = q / static_cast<double>(plan.plain_modulus);
  if (delta < 4) return std::nullopt;

  // Documented floor: |error| <= max_abs_output * 2^-16 in the default
  // precision (integer part), 0 in exact and the masks. Decoding rounds
  // phase / Delta, so the noise must stay below Delta * (floor + 1/2).
  plan.error_floor = precision == LinearPrecision::standard ? plan.max_abs_output >> 16 : 0;
  LinearNoise& nz = plan.noise;
  nz.allowed = delta * (static_cast<double>(plan.error_floor) + 0.5);
  if (companion) {
    // The standard row keeps the default floor F; the companion row's shift s
    // is the largest with 2^s Delta (F + 1) <= Q / 2, so that 2^s Delta
    // (y - a) + e (|y - a| <= F, |e| < 2^s Delta / 2) is centred mod Q.
    const int shift = static_cast<int>(std::floor(
                          std::log2(q / (2.0 * delta * (static_cast<double>(plan.max_abs_output >> 16) + 1.0))))) -
                      shift_drop;
    if (shift < 1) return std::nullopt;
    // The largest floor this shift leaves the standard row: a smaller shift
    // trades companion bits for standard ones (the planner tries a few).
    plan.companion_floor = static_cast<std::int64_t>(std::floor(q / 2.0 / (std::exp2(shift) * delta))) - 1;
    nz.allowed = delta * (static_cast<double>(plan.companion_floor) + 0.5);
    plan.companion_shift = shift;
    // Less a margin for the client's long double arithmetic (a few units).
    plan.companion_noise.allowed = std::exp2(shift) * delta / 2.0 - delta;
  }
  // A mask r is encoded as round(Q r / t) (Delta r would leave (Q mod t)
  // floor(r W^T / t) in the phase): each input carries |eps| <= 1/2, and
  // the product adds at most k 128 / 2 to the phase, outright.
  // That term, eps W, depends on W and the client knows eps: the weight
  // privacy flood hides it with the others (its variance at most
  // k 128^2 / 4 joins sigma_H; its outright bound is off `allowed`).
  if (mask) {
    nz.allowed -= 64.0 * shape.in;
    nz.mask_rounding = static_cast<double>(shape.in) * 128.0 * 128.0 / 4.0;
  }

  const double v_ks = key_switch_variance(id, plan.packing_gadget());
  // Tree: the key switch of a level-j node reaches only that node's own packed
  // coefficients (one node per level reaches a given coefficient, test
  // PackTreeKeepsEachEntryInItsOwnCoefficients), doubled (at worst, in
  // variance x4) by each of the l - j later levels.
  double tree = 0;
  for (int j = input_levels + 1; j <= plan.geo.log_chunk; ++j)
    tree += std::exp2(2.0 * (plan.geo.log_chunk - j)) * v_ks;
  // Input side: each sigma_mask(in) carries one key switch (hoisted, small
  // gadget), plus one per sequential level in its mask (smaller gadget;
  // bounded by all of them), and is multiplied by its folded weight
  // polynomial V_mask. The fold
  // is a butterfly of isometries (shifts, automorphisms), so the squared norms
  // add up: sum_mask ||V_mask||^2 = 2^L sum over its 2^L weight polynomials of
  // ||w||^2 <= 4^L n_w min(k, k_w) 128^2, per chunk. The weights carry
  // (k_w / 2^L)^-1, which cancels the factor of the remaining trace.
  if (input_levels > 0) {
    const double v_in = key_switch_variance(id, linear_input_gadget(id));
    const double weights_per_poly = static_cast<double>(plan.geo.outputs_per_poly) * std::min(shape.in, chunk_width);
    const double v_seq = key_switch_variance(id, linear_sequential_gadget(id));
    const double per_mask = v_in + plan.geo.sequential_levels() * v_seq;  // at most: every sequential bit set
    nz.input_side = static_cast<double>(plan.geo.chunks) * per_mask * std::exp2(2.0 * input_levels) *
                    weights_per_poly * 128.0 * 128.0;
  }
  // Re-randomization adds u * e0 (u ternary, e0 the public encryption's
  // error), a fresh e1 on the body and a fresh e2 on the mask (e2 s).
  nz.packing = tree + 2.0 * n * (2.0 / 3.0) * kErrorVariance + kErrorVariance;
  // Groups of packed cts leave under one mask (shared_mask.h): each body gets
  // the key-switch noise of every source's digits. Counted for full groups
  // whatever the row count, so a plan's widths hold for every T.
  plan.shared_mask = linear_shared_mask_available(id);
  if (plan.shared_mask)  // the shared-mask key: per prime
    nz.packing += static_cast<double>(kLinearSharedMaskGroup) * key_switch_variance(id, Gadget{linear_decomposition_bits(id)});

  // Flooding for weight privacy: a Gaussian of variance 4^S times the hidden
  // terms' (upload + packing + input side, + the masks' rounding), set with
  // the widths below.
  const double flood_factor = std::exp2(2.0 * privacy_bits);

  // Upload: fresh error (kErrorVariance) plus the body rounding (4^d / 12) on the sent
  // coefficients, multiplied by each weight polynomial (up to n_w * k_w
  // coefficients of |w| <= 128, per chunk). The trace multiplies it by k_w
  // and the server's constants by k_w^-1 (linear_reference.h): no gain.
  // A sub-body upload has errors only on the k coefficients it sends (one
  // per input), and each useful coefficient reads exactly those.
  const double weight_terms =
      plan.geo.sub_body()
          ? static_cast<double>(shape.in)
          : static_cast<double>(plan.geo.chunks) *
                std::min<double>(static_cast<double>(plan.geo.outputs_per_poly) * chunk_width,
                                 static_cast<double>(shape.out) * chunk_width);
  const double gain = weight_terms * 128.0 * 128.0;

  // Widths: the (body, mask, upload) bits with the fewest bytes whose noise
  // holds the bound. Each value's width buys a variance proportional to
  // 4^-bits, so the cheap widths are the ones carried by few values (the
  // mask of a 768-output reply is worth less than its 768 bodies). A
  // companion plan's two rows share the widths; its companion row carries
  // the upload's terms times 4^s.
  const double hidden_fixed = nz.packing + nz.input_side + nz.mask_rounding;  // the hidden terms but the upload
  if (companion) {
    const double allowed = plan.companion_noise.allowed;
    plan.companion_noise = nz;
    plan.companion_noise.allowed = allowed;
  }
  std::vector<RowKind> kinds{{&nz, 1.0}};
  if (companion) kinds.push_back({&plan.companion_noise, std::exp2(2.0 * plan.companion_shift), true});
  if (!choose_widths(plan, kinds, gain, hidden_fixed, flood_factor, q, q_bits)) return std::nullopt;
  plan.flood_std = std::sqrt(nz.flood);
  // flood_std / 2^shift <= 2^48: C = round(flood_std / 2^shift * g) is
  // exact in a double (|g| <= 8.6).
  plan.flood_shift = std::max(0, static_cast<int>(std::ceil(std::log2(plan.flood_std))) - 48);
  if (companion) {
    plan.companion_flood_std = std::sqrt(plan.companion_noise.flood);
    plan.companion_flood_shift =
        std::max(0, static_cast<int>(std::ceil(std::log2(plan.companion_flood_std))) - 48);
  }
  return plan;
}

}  // namespace

std::optional<LinearPlan> plan_linear_with(LinearShape shape, LinearPrecision precision, bool input_signed,
                                           ParamId id, std::uint32_t chunk_width, std::uint32_t rows_per_ct,
                                           int input_levels, int privacy_bits) {
  require_privacy_bits(privacy_bits);
  if (precision != LinearPrecision::exact)
    return plan_at_shift(shape, precision, input_signed, id, chunk_width, rows_per_ct, input_levels, privacy_bits, 0);
  // Exact: the companion shift with the fewest bytes among the largest few
  // (GPT-2's token: 1.355 MB in the model against 1.410 at the largest shift).
  std::optional<LinearPlan> best;
  for (int drop = 0; drop <= kLinearCompanionShiftDrops; ++drop) {
    auto p = plan_at_shift(shape, precision, input_signed, id, chunk_width, rows_per_ct, input_levels, privacy_bits,
                           drop);
    if (p && (!best || p->bytes_up() + p->bytes_down() < best->bytes_up() + best->bytes_down())) best = std::move(p);
  }
  return best;
}

double linear_plan_score(const LinearPlan& plan) noexcept {
  // One byte is worth 8 us of the single-core model: the GPT-2 token stays
  // under 1 MB. (The budget of 1 MB per 0.8 s of a two-core server would say
  // 1.6 us; at that rate the plans trade bytes for key switches past the
  // traffic target.)
  return static_cast<double>(plan.bytes_up() + plan.bytes_down()) * 8e-3 + plan.server_ms_model();
}

double LinearPlan::hidden_std() const noexcept {
  return std::sqrt(noise.upload + noise.packing + noise.input_side + noise.mask_rounding);
}

double LinearPlan::weight_privacy_nats() const noexcept {
  if (flood_std <= 0) return std::numeric_limits<double>::infinity();
  const double d = 2.0 * hidden_std() + std::exp2(flood_shift);
  const double nats = d * d / (2.0 * flood_std * flood_std);
  if (companion_shift == 0) return nats;
  // The companion row's value: its own hidden terms and flood.
  if (companion_flood_std <= 0) return std::numeric_limits<double>::infinity();
  const LinearNoise& c = companion_noise;
  const double dc = 2.0 * std::sqrt(c.upload + c.packing + c.input_side + c.mask_rounding) + std::exp2(companion_flood_shift);
  return std::max(nats, dc * dc / (2.0 * companion_flood_std * companion_flood_std));
}

std::vector<LinearPlan> linear_plan_candidates(LinearShape shape, LinearPrecision precision, bool input_signed,
                                               int privacy_bits) {
  shape.rows = 1;
  // Validates the shape once (throws for shapes out of range).
  (void)LinearGeometry::make(shape, 2048, 1, 1);
  require(shape.in <= linear_max_in(precision), ErrorCode::invalid_argument,
          "linear shape k=" + std::to_string(shape.in) + " outside 1.." + std::to_string(linear_max_in(precision)) +
              " for precision " + std::string(linear_precision_name(precision)));
  std::vector<LinearPlan> out;
  const std::vector<ParamId> sets = {ParamId::n2048_q54, ParamId::n4096_q108};
  // Server memory: NTT-form weights cost 4 or 8 bytes per slot and prime;
  // layouts with sparse weight polynomials multiply that (a row of 768 in a
  // chunk of 2048 costs 21 bytes per weight). Small layers are exempt.
  const double weights = static_cast<double>(shape.in) * shape.out;
  const auto slots = [](const LinearPlan& p) { return static_cast<double>(p.geo.weight_polys()) * p.geo.poly_degree; };
  for (ParamId id : sets) {
    const std::uint32_t n = static_cast<std::uint32_t>(parameter_set(id).poly_degree);
    for (std::uint32_t kw = 1; kw <= n; kw *= 2) {
      for (int levels = 0; levels <= std::min(kLinearMaxInputLevels, log2_exact(kw)); ++levels) {
        auto plan = plan_linear_with(shape, precision, input_signed, id, kw, 1, levels, privacy_bits);
        if (!plan) continue;
        if (plan->weight_bytes() > (std::size_t{4} << 20) && weights < kLinearMinWeightFill * slots(*plan)) continue;
        out.push_back(std::move(*plan));
      }
    }
  }
  // A large layer's memory outweighs its bytes per call: keep its full layouts
  // if it has any.
  const auto sparse_large = [&](const LinearPlan& p) {
    return p.weight_bytes() > kLinearLargeLayerBytes && weights < kLinearLargeLayerMinFill * slots(p);
  };
  if (std::any_of(out.begin(), out.end(), [&](const LinearPlan& p) { return !sparse_large(p); }))
    std::erase_if(out, sparse_large);
  std::stable_sort(out.begin(), out.end(), [](const LinearPlan& a, const LinearPlan& b) {
    return linear_plan_score(a) < linear_plan_score(b);
  });
  return out;
}

namespace {

// One-row plans, memoized per (k, n, precision, signed): planning scans every
// layout (up to ~0.3 s for an LM head) and both sides plan every call.
// Bounded: cleared when it grows past the limit.
LinearPlan one_row_plan(std::uint32_t in, std::uint32_t out, LinearPrecision precision, bool input_signed,
                        int privacy_bits) {
  using Key = std::tuple<std::uint32_t, std::uint32_t, int, bool, int>;
  static std::mutex mutex;
  static std::map<Key, LinearPlan> cache;
  const Key key{in, out, static_cast<int>(precision), input_signed, privacy_bits};
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const LinearShape shape{1, in, out};
  LinearPlan plan;
  if (precision == LinearPrecision::mask_table) {
    // Its own encoding: the best layout for a table's k (linear_plan_candidates).
    auto candidates = linear_plan_candidates(shape, precision, false, privacy_bits);
    require(!candidates.empty(), ErrorCode::bad_parameters,
            "no layout holds the noise bound of table mask rows for V=" + std::to_string(in) +
                " width=" + std::to_string(out) + " at weight privacy " + std::to_string(privacy_bits) + " bits");
    plan = std::move(candidates.front());
  } else if (linear_is_mask_precision(precision) || precision == LinearPrecision::exact) {
    // The masks and exact calls ride on the standard encoding (the server
    // holds no other); exact rows signed or not.
    const LinearLayout l = linear_resident_layout(in, out, LinearPrecision::standard, privacy_bits);
    auto p = plan_linear_with(shape, precision, input_signed, l.param_id, l.chunk_width, 1, l.input_levels,
                              privacy_bits);
    require(p.has_value(), ErrorCode::bad_parameters,
            std::string(precision == LinearPrecision::exact ? "exact" : "mask") +
                " rows do not hold the noise bound of the layout for k=" + std::to_string(in) +
                " n=" + std::to_string(out) + " at weight privacy " + std::to_string(privacy_bits) + " bits");
    plan = std::move(*p);
  } else if (!input_signed) {
    auto candidates = linear_plan_candidates(shape, precision, false, privacy_bits);
    require(!candidates.empty(), ErrorCode::bad_parameters,
            "no parameter set holds the noise bound for k=" + std::to_string(in) + " n=" + std::to_string(out) +
                " at weight privacy " + std::to_string(privacy_bits) + " bits");
    plan = std::move(candidates.front());
  } else {
    // Signed rows use the unsigned layout (the server holds one encoding).
    const LinearLayout l = linear_resident_layout(in, out, precision, privacy_bits);
    auto p = plan_linear_with(shape, precision, true, l.param_id, l.chunk_width, 1, l.input_levels, privacy_bits);
    require(p.has_value(), ErrorCode::bad_parameters,
            "signed rows do not hold the noise bound of the layout for k=" + std::to_string(in) +
                " n=" + std::to_string(out));
    plan = std::move(*p);
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.size() >= 4096) cache.clear();
  return cache.emplace(key, std::move(plan)).first->second;
}

}  // namespace

LinearLayout linear_resident_layout(std::uint32_t in, std::uint32_t out, LinearPrecision precision,
                                    int privacy_bits) {
  require_privacy_bits(privacy_bits);
  const LinearPlan p = one_row_plan(in, out, precision, false, privacy_bits);
  return {p.param_id, p.geo.chunk_width, p.geo.input_levels};
}

LinearPlan plan_linear(LinearShape shape, LinearPrecision precision, bool input_signed, int privacy_bits) {
  require(shape.rows <= kLinearMaxRows, ErrorCode::invalid_argument,
          "linear shape T=" + std::to_string(shape.rows) + " outside 1.." + std::to_string(kLinearMaxRows));
  (void)LinearGeometry::make(shape, 2048, 1, 1);  // validates the shape
  require(shape.in <= linear_max_in(precision), ErrorCode::invalid_argument,
          "linear shape k=" + std::to_string(shape.in) + " outside 1.." + std::to_string(linear_max_in(precision)) +
              " for precision " + std::string(linear_precision_name(precision)));
  require_privacy_bits(privacy_bits);
  LinearPlan plan = one_row_plan(shape.in, shape.out, precision, input_signed, privacy_bits);
  if (plan.companion_shift > 0) shape.rows *= 2;  // the evaluated rows
  plan.geo = LinearGeometry::make(shape, plan.geo.poly_degree, plan.geo.chunk_width, 1, plan.geo.input_levels);
  return plan;
}

std::string describe(const LinearPlan& plan) {
  std::ostringstream os;
  const LinearGeometry& g = plan.geo;
  os << parameter_set(plan.param_id).name << " T=" << plan.call_rows() << " k=" << g.shape.in << " n=" << g.shape.out
     << " precision=" << linear_precision_name(plan.precision) << " k_w=" << g.chunk_width << " T_w=" << g.rows_per_ct
 << " n_w=" << g.outputs_per_poly << " L=" << g.input_levels << " in_cts=" << g.input_cts() << " packed_cts=" << g.packed_cts()
     << " products=" << plan.products() << " key_switches=" << plan.key_switches() << " t=" << plan.plain_modulus
     << " d=" << plan.upload_drop_bits << " up_bits=" << plan.upload_bits << " body_bits=" << plan.body_bits
     << " mask_bits=" << plan.mask_bits << " shared_mask=" << (plan.shared_mask ? 1 : 0) << " w=" << plan.decomposition_bits << " floor=" << plan.error_floor
     << " noise_bound=" << plan.noise.bound() << " allowed=" << plan.noise.allowed
     << " privacy_bits=" << plan.privacy_bits << " flood_std=" << plan.flood_std;
  if (plan.companion_shift > 0)
    os << " evaluated_rows=" << g.shape.rows << " companion_shift=" << plan.companion_shift
       << " companion_floor=" << plan.companion_floor
       << " companion_body_bits=" << plan.companion_body_bits << " companion_noise_bound=" << plan.companion_noise.bound()
       << " companion_allowed=" << plan.companion_noise.allowed << " companion_flood_std=" << plan.companion_flood_std;
  os
     << " privacy_nats_per_value=" << plan.weight_privacy_nats();
  return os.str();
}

}  // namespace fhellm::he
