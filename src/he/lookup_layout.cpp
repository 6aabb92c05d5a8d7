#include "he/lookup_layout.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <tuple>

#include "fhellm/error.h"
#include "math/blocked_product.h"

namespace fhellm::he {
namespace {

int ceil_log2(std::uint64_t v) { return v <= 1 ? 0 : 64 - __builtin_clzll(v - 1); }
std::size_t packed_bytes(std::size_t count, int bits) { return (count * static_cast<std::size_t>(bits) + 7) / 8; }

double log2_q(const ParameterSet& ps) {
  double l = 0;
  for (std::uint64_t q : ps.coeff_modulus) l += std::log2(static_cast<double>(q));
  return l;
}


void check_shape(const LookupShape& s, int value_bits) {
  require(s.rows >= 1 && s.rows <= kLookupMaxRows && s.table_rows >= 1 && s.table_rows <= kLookupMaxTableRows &&
              s.width >= 1 && s.width <= kLookupMaxWidth,
          ErrorCode::invalid_argument,
          "lookup shape T=" + std::to_string(s.rows) + " V=" + std::to_string(s.table_rows) + " width=" +
              std::to_string(s.width) + " outside 1..512 x 1..262144 x 1..8192");
  require(value_bits >= 2 && value_bits <= 8, ErrorCode::invalid_argument,
          "lookup: table values of " + std::to_string(value_bits) + " bits (2..8)");
}

// Whether expansion level l (element X -> X^(N / 2^l + 1) = 2^j + 1, j =
// log2 N - l) uses the session's input-side keys (j <= 5) rather than its
// sequential single keys (j >= 6).
bool expansion_level_uses_input_keys(int level) {
  const int log_n = std::countr_zero(static_cast<std::uint32_t>(parameter_set(kLookupParamId).poly_degree));
  return log_n - level <= kLinearHoistedLevels;
}

// The selection's noise: every level's external product adds
// N D (4^w / 12) (var(A) + var(B)), A the expanded scalars b g_d and B = A s
// completed with the square key (docs/embedding.md).
void selection_noise(LookupPlan& plan) {
  const ParamId id = kLookupParamId;
  const double n = static_cast<double>(parameter_set(id).poly_degree);
  LookupNoise& nz = plan.noise;
  if (plan.select_bits == 0) return;
  // Expansion: the fresh error of the uploaded coefficient (sent exactly),
  // then level l's key switch doubled by each of the m + a - 1 - l later levels.
  const double v_seq = key_switch_variance(id, Gadget{plan.expansion_decomposition_bits, linear_input_gadget_base(id)});
  const double v_in = key_switch_variance(id, linear_input_gadget(id));
  const int levels = plan.expansion_total_levels();
  nz.expansion = kErrorVariance;
  for (int l = 0; l < levels; ++l)
    nz.expansion += std::exp2(2.0 * (levels - 1 - l)) * (expansion_level_uses_input_keys(l) ? v_in : v_seq);
  const double var_b = (2.0 * n / 3.0) * nz.expansion + key_switch_variance(id, Gadget{kLookupSquareKeyBits});
  const double v_ext = n * static_cast<double>(plan.select_digits) * std::exp2(2.0 * plan.select_decomposition_bits) /
                       12.0 * (nz.expansion + var_b);
  nz.select = plan.select_bits * v_ext;
}

// The reply's widths and the base upload's with the fewest bytes whose noise
// holds the bound (as plan_linear_with; exact: Delta / 2 allowed).
bool choose_widths(LookupPlan& plan, double gain) {
  const ParameterSet& ps = parameter_set(kLookupParamId);
  const double lq = log2_q(ps), q = std::exp2(lq), n = static_cast<double>(ps.poly_degree);
  const int q_bits = static_cast<int>(std::ceil(lq));
  LookupNoise& nz = plan.noise;
  const double budget = std::pow(nz.allowed / nz.z, 2);
  const double s_norm2 = 2.0 * n / 3.0;
  // The hidden terms but the upload (what the flood must hide, as the linear
  // layer's sigma_H, with the selection's: its key switches read the table's
  // entries): the flood grows with them, at weight privacy S = 0 (variance
  // 4^0 = 1 times theirs).
  const double hidden_fixed = nz.packing + nz.input_side + nz.select;
  const LinearGeometry& geo = plan.linear.geo;
  const double c_up = static_cast<double>(geo.shape.rows) * geo.shape.in;
  const double c_body = static_cast<double>(geo.shape.rows) * geo.shape.out;
  const double c_mask = static_cast<double>(plan.linear.mask_count()) * n;
  double best = std::numeric_limits<double>::infinity();
  for (int b = 2; b <= std::min(q_bits, 60); ++b) {
    const double body_step = q / std::exp2(b);
    for (int mb = 2; mb <= std::min(q_bits, 60); ++mb) {
      const double mask_step = q / std::exp2(mb);
      const double v_mask = mask_step * mask_step / 12.0 * s_norm2;
      double left = (budget - body_step * body_step / 12.0 - v_mask) / 2.0 - hidden_fixed;
      if (nz.allowed > body_step / 2) {
        const double rest = (nz.allowed - body_step / 2) / nz.z;
        left = std::max(left, (rest * rest - v_mask) / 2.0 - hidden_fixed);
      }
      if (left <= gain * kErrorVariance) continue;
      int d = static_cast<int>(std::floor(0.5 * std::log2((left / gain - kErrorVariance) * 12.0)));
      d = std::clamp(d, 0, q_bits - 8);
      const double bits = c_up * (q_bits - d) + c_body * b + c_mask * mb;
      if (bits < best) {
        best = bits;
        plan.linear.body_bits = b;
        plan.linear.mask_bits = mb;
        plan.linear.upload_drop_bits = d;
      }
    }
  }
  if (!std::isfinite(best)) return false;
  plan.linear.upload_bits = q_bits - plan.linear.upload_drop_bits;
  const double body_step = q / std::exp2(plan.linear.body_bits);
  const double mask_step = q / std::exp2(plan.linear.mask_bits);
  nz.download_body = body_step * body_step / 12.0;
  nz.body_bound = body_step / 2;
  nz.download_mask = mask_step * mask_step / 12.0 * s_norm2;
  const int d = plan.linear.upload_drop_bits;
  nz.upload = gain * (kErrorVariance + (d > 0 ? std::exp2(2.0 * d) / 12.0 : 0.0));
  nz.flood = nz.upload + hidden_fixed;
  LinearPlan& lp = plan.linear;
  lp.flood_std = std::sqrt(nz.flood);
  // flood_std / 2^shift <= 2^48, as plan_linear_with's.
  lp.flood_shift = std::max(0, static_cast<int>(std::ceil(std::log2(lp.flood_std))) - 48);
  // The linear plan's view (LinearPlan::weight_privacy_nats, describe): the
  // selection counts with the input side.
  lp.noise.upload = nz.upload;
  lp.noise.packing = nz.packing;
  lp.noise.input_side = nz.input_side + nz.select;
  lp.noise.download_body = nz.download_body;
  lp.noise.download_mask = nz.download_mask;
  lp.noise.flood = nz.flood;
  lp.noise.body_bound = nz.body_bound;
  return nz.bound() <= nz.allowed;
}

// The one-row plan with `levels` input-side levels; nullopt when its noise
// bound cannot hold or the session keys lack its automorphisms.
std::optional<LookupPlan> plan_with(LookupShape shape, int value_bits, int levels) {
  const ParamId id = kLookupParamId;
  const ParameterSet& ps = parameter_set(id);
  const auto n = static_cast<std::uint32_t>(ps.poly_degree);
  if (levels > kLinearHoistedLevels + kLinearSequentialLevels) return std::nullopt;  // keys: j <= 9
  LookupPlan plan;
  plan.shape = shape;
  plan.value_bits = value_bits;
  LinearPlan& lp = plan.linear;
  lp.geo = LinearGeometry::make({shape.rows, std::min(shape.table_rows, n), shape.width}, n, n, 1, levels);
  lp.param_id = id;
  lp.precision = LinearPrecision::exact;
  lp.input_signed = false;
  lp.max_abs_output = (std::int64_t{1} << (value_bits - 1)) - 1;
  lp.plain_bits = value_bits;  // t = 2^b > 2 (2^(b-1) - 1)
  lp.plain_modulus = std::uint64_t{1} << value_bits;
  lp.decomposition_bits = linear_packing_gadget(id).bits;
  lp.packing_base = linear_packing_gadget(id).base;
  lp.input_decomposition_bits = levels > 0 ? linear_input_decomposition_bits(id) : 0;
  lp.shared_mask = linear_shared_mask_available(id);
  plan.chunks = (shape.table_rows + n - 1) / n;
  plan.select_bits = ceil_log2(plan.chunks);
  plan.select_decomposition_bits = kLookupSelectDecompositionBits;
  plan.select_digits = lookup_gadget_digits(id, plan.select_decomposition_bits);
  plan.expansion_levels = ceil_log2(plan.expanded_scalars());
  plan.expansion_decomposition_bits = linear_sequential_decomposition_bits(id);
  // The expansion uses X -> X^(N / 2^l + 1), l < m: the session's sequential keys (j >= 6).
  if (plan.expansion_levels > std::countr_zero(n) - kLinearHoistedLevels) return std::nullopt;

  const double q = std::exp2(log2_q(ps)), nd = static_cast<double>(n);
  LookupNoise& nz = plan.noise;
  nz.allowed = q / std::exp2(lp.plain_bits) / 2.0;  // exact: Delta / 2
  const double value = std::exp2(value_bits - 1);    // |table value| bound (squared below)
  const double v_ks = key_switch_variance(id, lp.packing_gadget());
  double tree = 0;
  for (int j = levels + 1; j <= lp.geo.log_chunk; ++j) tree += std::exp2(2.0 * (lp.geo.log_chunk - j)) * v_ks;
  // Re-randomization as the linear layer's (linear_layout.cpp): u * e0, a
  // fresh e1 on the body and a fresh e2 on the mask (e2 s).
  nz.packing = tree + 2.0 * nd * (2.0 / 3.0) * kErrorVariance + kErrorVariance +
               (lp.shared_mask ? kLinearSharedMaskGroup * key_switch_variance(id, Gadget{linear_decomposition_bits(id)}) : 0.0);
  if (levels > 0) {
    // As the linear layer's, for the one chunk whose entries the selection keeps.
    const double v_in = key_switch_variance(id, linear_input_gadget(id));
    const double v_seq = key_switch_variance(id, linear_sequential_gadget(id));
    nz.input_side = (v_in + lp.geo.sequential_levels() * v_seq) * std::exp2(2.0 * levels) * lp.geo.shape.in *
                    value * value;
  }
  // The sparse select record's trace levels a: each one halves the select
  // body's positions for one key switch and 4x the expansion's earlier
  // noise; taken while the bytes it saves (8 us each, the linear planner's
  // rate) outweigh its model time and the widths it costs.
  // The reply's Gaussian flood (the linear layer's ReplyWriter) is set with
  // the widths: weight privacy S = 0 whatever the server's setting.
  const int log_n = std::countr_zero(n);
  const double gain = static_cast<double>(lp.geo.shape.in) * value * value;
  std::optional<LookupPlan> best;
  double best_score = 0;
  const int max_sparse = plan.select_bits == 0 ? 0 : log_n - plan.expansion_levels;
  for (int a = 0; a <= max_sparse; ++a) {
    LookupPlan p = plan;
    p.select_sparse_levels = a;
    selection_noise(p);
    if (!choose_widths(p, gain)) continue;
    p.linear.noise.allowed = p.noise.allowed;
    const double score = static_cast<double>(p.bytes_up() + p.bytes_down()) * 8.0 + p.server_ms_model() * 1e3;
    if (!best || score < best_score) {
      best_score = score;
      best = std::move(p);
    }
  }
  return best;
}

LookupPlan one_row_plan(std::uint32_t table_rows, std::uint32_t width, int value_bits) {
  using Key = std::tuple<std::uint32_t, std::uint32_t, int>;
  static std::mutex mutex;
  static std::map<Key, LookupPlan> cache;
  const Key key{table_rows, width, value_bits};
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  std::optional<LookupPlan> best;
  const int max_levels = std::countr_zero(static_cast<std::uint32_t>(parameter_set(kLookupParamId).poly_degree));
  for (int levels = 0; levels <= max_levels; ++levels) {
    auto p = plan_with({1, table_rows, width}, value_bits, levels);
    if (p && (!best || p->server_ms_model() < best->server_ms_model())) best = std::move(p);
  }
  require(best.has_value(), ErrorCode::bad_parameters,
          "no lookup plan holds the noise bound for V=" + std::to_string(table_rows) + " width=" + std::to_string(width));
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.size() >= 1024) cache.clear();
  return cache.emplace(key, std::move(*best)).first->second;
}

}  // namespace

std::size_t lookup_gadget_digits(ParamId id, int decomposition_bits) noexcept {
  return gadget_digit_count(parameter_set(id), Gadget{decomposition_bits});
}
double LookupNoise::bound() const {
  const double gaussian = z * std::sqrt(total());
  if (body_bound <= 0) return gaussian;
  return std::min(gaussian, body_bound + z * std::sqrt(total() - download_body));
}

std::vector<std::uint32_t> LookupPlan::select_positions() const {
  std::vector<std::uint32_t> out;
  if (select_bits == 0) return out;
  // Scalar i at i 2^a; it reaches output i from every i 2^a + k 2^(m + a).
  const std::uint32_t period = 1u << expansion_total_levels(), step = 1u << select_sparse_levels;
  for (std::uint32_t p = 0; p < linear.geo.poly_degree; ++p) {
    const std::uint32_t r = p % period;
    if (r % step == 0 && r / step < expanded_scalars()) out.push_back(p);
  }
  return out;
}

namespace {
// Key switches of expansion level l: one for a trace level (l < a), else
// one per live node.
std::size_t expansion_level_key_switches(const LookupPlan& plan, int l) {
  if (l < plan.select_sparse_levels) return 1;
  return std::min<std::size_t>(std::size_t{1} << (l - plan.select_sparse_levels), plan.expanded_scalars());
}
}  // namespace

std::size_t LookupPlan::expansion_key_switches() const noexcept {
  std::size_t count = 0;
  if (select_bits == 0) return count;
  for (int l = 0; l < expansion_total_levels(); ++l) count += expansion_level_key_switches(*this, l);
  return count;
}

std::size_t LookupPlan::expansion_input_key_switches() const noexcept {
  std::size_t count = 0;
  if (select_bits == 0) return count;
  for (int l = 0; l < expansion_total_levels(); ++l)
    if (expansion_level_uses_input_keys(l)) count += expansion_level_key_switches(*this, l);
  return count;
}

std::size_t LookupPlan::bytes_up() const noexcept {
  const LinearGeometry& geo = linear.geo;
  const std::size_t n = geo.poly_degree;
  const int q_bits = static_cast<int>(std::ceil(log2_q(parameter_set(linear.param_id))));
  std::size_t per_row = 32 + packed_bytes(geo.shape.in, linear.upload_bits);
  if (select_bits > 0) {
    // B D positions (i 2^a, i < B D) in each period of 2^(m + a).
    const std::size_t sent = expanded_scalars() * (n >> expansion_total_levels());
    per_row += 32 + packed_bytes(sent, q_bits);
  }
  return 48 + shape.rows * per_row;
}

std::size_t LookupPlan::products() const noexcept {
  return std::size_t{linear.geo.row_groups} * linear.geo.weight_polys() * chunks;
}

namespace {

// The selection's and the packing trees' work of one plan in either order:
// CMux gates (external products) and tree merges (key switches).
struct SelectAndPack {
  std::size_t gates = 0, merges = 0;
};

SelectAndPack select_and_pack(const LookupPlan& plan, bool pack_first) {
  const LinearGeometry& geo = plan.linear.geo;
  const std::size_t rows = geo.row_groups, chunks = plan.chunks;
  if (pack_first) {
    const std::size_t per_id = geo.row_entries() / geo.entries_per_packed();
    return {rows * per_id * (chunks - 1), rows * per_id * chunks * geo.tree_merges(geo.entries_per_packed())};
  }
  std::size_t tree = 0;
  for (std::size_t f = 0; f < geo.packed_cts(); ++f) tree += geo.tree_merges(geo.packed_entries(f));
  return {rows * geo.row_entries() * (chunks - 1), tree};
}

// Model microseconds of one key switch of gadget width `bits`
// (LookupPlan::server_ms_model's constants).
double key_switch_us(ParamId id, const Gadget& gadget) {
  return 43.0 + 25.0 * static_cast<double>(gadget_digit_count(parameter_set(id), gadget));
}
double key_switch_us(ParamId id, int bits) { return key_switch_us(id, Gadget{bits}); }

// Model microseconds of SelectAndPack.
double select_and_pack_us(const LookupPlan& plan, const SelectAndPack& w) {
  const ParamId id = plan.linear.param_id;
  return static_cast<double>(w.gates) * (2.0 * key_switch_us(id, plan.select_decomposition_bits) + 40.0) +
         static_cast<double>(w.merges) *
             key_switch_us(id, plan.linear.packing_gadget());
}

}  // namespace

bool LookupPlan::packs_first() const noexcept {
  const LinearGeometry& geo = linear.geo;
  if (select_bits == 0 || geo.row_entries() % geo.entries_per_packed() != 0) return false;
  return select_and_pack_us(*this, select_and_pack(*this, true)) < select_and_pack_us(*this, select_and_pack(*this, false));
}

std::size_t LookupPlan::external_products() const noexcept { return select_and_pack(*this, packs_first()).gates; }

std::size_t LookupPlan::key_switches() const noexcept {
  const std::size_t rows = linear.geo.row_groups;
  return linear.geo.input_key_switches() + rows * (expansion_key_switches() + expanded_scalars()) +
         select_and_pack(*this, packs_first()).merges;
}

std::size_t LookupPlan::weight_bytes() const noexcept {
  // 27-bit fields: units of 16 slots in 54 bytes, one slot per prime (two primes).
  return linear.geo.weight_polys() * chunks * linear.geo.poly_degree * 2 / math::kSlotBlock * math::kPackedUnitBytes;
}

double LookupPlan::server_ms_model() const noexcept {
  // The constants of LinearPlan::server_ms_model (AVX2 machine, single core):
  // product 3.4 us, key switch 43 + 25 x digits us, hoisted automorphism 60
  // us, reply 250 us per packed ct; an external product is two key switches
  // and four inverse NTTs (10 us each).
  const ParamId id = linear.param_id;
  const auto ks = [&](int w) { return key_switch_us(id, w); };
  const double rows = linear.geo.row_groups;
  double us = static_cast<double>(products()) * 3.4;
  us += select_and_pack_us(*this, select_and_pack(*this, packs_first()));
  const auto on_input_keys = static_cast<double>(expansion_input_key_switches());
  const double on_sequential_keys = static_cast<double>(expansion_key_switches()) - on_input_keys;
  const GadgetBase input_base = linear_input_gadget_base(id);
  us += rows * (on_sequential_keys * key_switch_us(id, Gadget{expansion_decomposition_bits, input_base}) +
                on_input_keys * key_switch_us(id, linear_input_gadget(id)) +
                static_cast<double>(expanded_scalars()) * ks(kLookupSquareKeyBits));
  us += static_cast<double>(linear.geo.packed_cts()) * 250.0;
  const int levels = linear.geo.input_levels;
  if (levels > 0) {
    const double bases = std::exp2(linear.geo.sequential_levels());
    us += rows * ((bases - 1) * key_switch_us(id, linear_sequential_gadget(id)) +
                  bases * 25.0 *
                      static_cast<double>(gadget_digit_count(parameter_set(id),
                                                             Gadget{linear.input_decomposition_bits, input_base})) +
                  (std::exp2(levels) - bases) * 60.0);
  }
  return us * 1e-3;
}

LookupPlan plan_lookup(LookupShape shape, int value_bits) {
  check_shape(shape, value_bits);
  LookupPlan plan = one_row_plan(shape.table_rows, shape.width, value_bits);
  plan.shape = shape;
  LinearGeometry& g = plan.linear.geo;
  g = LinearGeometry::make({shape.rows, g.shape.in, g.shape.out}, g.poly_degree, g.chunk_width, 1, g.input_levels);
  return plan;
}

std::string describe(const LookupPlan& plan) {
  std::ostringstream os;
  const LinearGeometry& g = plan.linear.geo;
  os << "lookup T=" << plan.shape.rows << " V=" << plan.shape.table_rows << " width=" << plan.shape.width
     << " chunks=" << plan.chunks << " L=" << g.input_levels << " entries/row=" << g.row_entries()
     << " select_bits=" << plan.select_bits << " digits=" << plan.select_digits << " m=" << plan.expansion_levels
     << " sparse_levels=" << plan.select_sparse_levels
     << " t=2^" << plan.linear.plain_bits << " up_bits=" << plan.linear.upload_bits
     << " body_bits=" << plan.linear.body_bits << " mask_bits=" << plan.linear.mask_bits
     << " products=" << plan.products() << " external_products=" << plan.external_products()
     << " packs_first=" << plan.packs_first()
     << " key_switches=" << plan.key_switches() << " bytes_up=" << plan.bytes_up() << " bytes_down=" << plan.bytes_down()
     << " noise_bound=2^" << std::log2(plan.noise.bound()) << " allowed=2^" << std::log2(plan.noise.allowed)
     << " flood_std=2^" << std::log2(plan.linear.flood_std)
     << " privacy_nats_per_value=" << plan.linear.weight_privacy_nats();
  return os.str();
}

}  // namespace fhellm::he
