// Layout of the encrypted matrix product Y = X W^T (X: T x k activations,
// W: n x k int8 weights) in RLWE coefficient encoding, and the plan that
// fixes its parameters (ring, noise, moduli). Pure index math and models: no
// cryptography here. Derivations and figures: docs/linear.md.
//
// Geometry (Cheetah-style product, Huang et al. USENIX Security 2022, with
// PackLWEs-style packing, Chen-Dai-Kim-Song ACNS 2021, applied to sparse RLWE
// results as in Rhombus, He et al. CCS 2024):
//   k_w = chunk_width (power of two) input values per row and ciphertext,
//   T_w = rows_per_ct rows per input ciphertext, n_w = outputs_per_poly rows
//   of W per weight polynomial, with T_w * n_w * k_w = N.
//   input ct (g, c), g < row_groups, c < chunks: coefficient t*k_w + j holds
//     x[g*T_w + t][c*k_w + j];
//   weight poly (s, c), s < sparse_per_group: sum_{r<n_w, j<k_w}
//     W[s*n_w + r][c*k_w + j] X^(r*T_w*k_w - j)   (negacyclic: X^-j = -X^(N-j));
//   sparse result s of group g = sum_c input(g,c) * weight(s,c): coefficient
//     (r*T_w + t)*k_w holds y[g*T_w + t][s*n_w + r]; other coefficients garbage;
//   packed ct (g, p), p < packed_per_group: sparse results s = p*k_w + i
//     (i < k_w) packed by the trace tree: coefficient (r*T_w + t)*k_w + slot(i)
//     holds k_w * y[g*T_w + t][(p*k_w + i)*n_w + r] (slot_of_sparse: the
//     identity without a split point). The server scales its inputs by
//     2^-L and its weights by (k_w/2^L)^-1 mod Q (linear_reference.h), so the
//     packed ct decrypts to y itself and no noise is amplified by the trace.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "he/params.h"

namespace fhellm::he {

// "exact": every bit of X W^T. "standard" (CLI: "default"): errors up to
// 2^-16 of the largest value the layer can produce (k * max|x| * 128).
// "mask_pow2" / "mask_odd": the offline half of the online mode
// (docs/online.md): rows of uniform values r mod t for the plain modulus t of
// linear_online_modulus(k) (its power of two, its odd factor); the reply
// decrypts to r W^T mod t exactly. They use the layout and the weights of
// `standard` (no encoding of their own).
// "mask_table": the offline half of the online token lookup (docs/online.md
// section 10): rows of k = V residues r mod 2^8 (one per table row) times W =
// E^T, exact mod 2^8, so k may reach kLinearMaxTableIn; an encoding of its own
// (the lookup's layout would pay C input sides per row: 5x the time).
enum class LinearPrecision : std::uint8_t { exact = 1, standard = 2, mask_pow2 = 3, mask_odd = 4, mask_table = 5 };

// What a user gets unless they ask for exact (the server encodes its weights
// for this precision unless told otherwise).
inline constexpr LinearPrecision kLinearDefaultPrecision = LinearPrecision::standard;

std::string_view linear_precision_name(LinearPrecision p) noexcept;  // "exact", "default", "mask-pow2", "mask-odd", "mask-table"
bool linear_is_mask_precision(LinearPrecision p) noexcept;
// The precision whose weight encoding a call of `p` uses (standard for
// mask_pow2 and mask_odd; mask_table has its own).
LinearPrecision linear_encoding_precision(LinearPrecision p) noexcept;

// Weight privacy S (docs/linear.md section 6): the reply's flood is a
// Gaussian of standard deviation 2^S sigma_H, where sigma_H^2 is the variance
// of every noise term a semi-honest client could know or that carries the
// server's re-randomization (upload, packing, input side, the masks' encoding
// rounding, at |w| = 128 everywhere). Each output value then tells the client
// at most about 2 * 4^-S nats of Kullback-Leibler divergence about W beyond
// X W^T (LinearPlan::weight_privacy_nats). S = 0 is the default; the server
// picks S (`fhellm serve --weight-privacy-bits`), both sides plan with it
// (mask calls of the online mode's offline phase too).
inline constexpr int kLinearMaxPrivacyBits = 40;
// @throws Error(invalid_argument) for other names.
LinearPrecision parse_linear_precision(std::string_view name);

// Shape of one call. rows = T, in = k, out = n.
struct LinearShape {
  std::uint32_t rows = 0;
  std::uint32_t in = 0;
  std::uint32_t out = 0;
  friend bool operator==(const LinearShape&, const LinearShape&) = default;
};

// The online mode's modulus for a layer of k inputs (docs/online.md):
// p = pow2 * odd with pow2 = 2^ceil(b / 2), b = bits of 2 M + 1, M = k 128 127
// the largest |X' W^T| of centred rows X' = X - 128 (the uint8 rows shifted
// to [-128, 127]; the client adds 128 times the public row sums back) and
// symmetric weights (|w| <= kOnlineMaxAbsWeight, as quantization makes them
// and the online server checks), and odd the smallest odd number with
// p >= 2 M + 1. X' W^T is recovered exactly from its residue mod p; the two
// coprime factors are the plain moduli of the two mask products whose
// residues the client joins by the Chinese remainder theorem.
inline constexpr std::uint64_t kOnlineMaxAbsWeight = 127;
struct OnlineModulus {
  std::uint64_t pow2 = 0, odd = 0, p = 0;
  int bits = 0;  // of p - 1: the wire width of a value mod p
};
// @throws Error(invalid_argument) for k outside 1..kLinearMaxIn.
OnlineModulus linear_online_modulus(std::uint32_t in);

// Hard limits of the API (checked at every boundary).
inline constexpr std::uint32_t kLinearMaxRows = 512;
// Rows a geometry may hold: an exact call evaluates each of its rows twice
// (LinearPlan::companion_shift).
inline constexpr std::uint32_t kLinearMaxEvaluatedRows = 2 * kLinearMaxRows;
inline constexpr std::uint32_t kLinearMaxIn = 8192;
inline constexpr std::uint32_t kLinearMaxOut = 131072;
// A table's rows (the vocabulary): the k of mask_table calls.
inline constexpr std::uint32_t kLinearMaxTableIn = 1u << 18;
// kLinearMaxTableIn for mask_table, kLinearMaxIn for the others.
std::uint32_t linear_max_in(LinearPrecision p) noexcept;
// The plain modulus of mask_table calls and the online token lookup's p:
// a table row's values are int8 (|v| <= 127), recovered from their residue mod 2^8.
inline constexpr std::uint64_t kOnlineTableModulus = 256;

// The session keys hold the input-side automorphisms of the levels whose
// elements are 2^j + 1: every composition for j = 1..5 (applied hoisted,
// composed_galois_elements) and the single elements of j = 6..9 (applied one
// key switch at a time before the hoisted ones). A split of L levels with
// k_w = N / 2^m uses j = m + 1..m + L, so m + L <= 9.
inline constexpr int kLinearHoistedLevels = 5;
inline constexpr int kLinearSequentialLevels = 4;

// Pure index math of one layout (any power-of-two N; tests use small N).
struct LinearGeometry {
  LinearShape shape;
  std::uint32_t poly_degree = 0;       // N
  std::uint32_t chunk_width = 0;       // k_w = packing factor m
  std::uint32_t rows_per_ct = 0;       // T_w
  std::uint32_t outputs_per_poly = 0;  // n_w
  std::uint32_t chunks = 0;            // ceil(k / k_w)
  std::uint32_t row_groups = 0;        // ceil(T / T_w)
  std::uint32_t sparse_per_group = 0;  // ceil(n / n_w)
  std::uint32_t packed_per_group = 0;  // ceil(sparse_per_group / k_w)
  int log_chunk = 0;                   // log2(k_w)
  // Split point: the first L levels of the packing tree are applied to the
  // input ciphertexts (2^L - 1 automorphisms each) and folded into the weight
  // polynomials, so the tree only runs levels L+1..log2(k_w) (docs/linear.md).
  int input_levels = 0;                // L

  // @throws Error(invalid_argument) unless the shape is within the limits,
  //   N, k_w, T_w are powers of two and T_w * k_w <= N.
  static LinearGeometry make(LinearShape shape, std::uint32_t poly_degree, std::uint32_t chunk_width,
                             std::uint32_t rows_per_ct, int input_levels = 0);

  std::size_t input_cts() const noexcept { return std::size_t{row_groups} * chunks; }
  // Packed cts of the whole call (flat index f). With one row per input ct
  // (T_w = 1) the rows share them: the tree entries of row 0, then row 1, ...
  // fill packed ct f's E = k_w / 2^L slots in order (global entry f E + e),
  // so a row with a partly filled last packed ct does not cost a tree and a
  // reply of its own. One row: the same as packing each row alone. With
  // T_w > 1 (the clear model's layouts): row group g's packed ct p is
  // f = g packed_per_group + p.
  std::size_t packed_cts() const noexcept;
  // Tree entries of one row group: sum_p live_entries(p).
  std::uint32_t row_entries() const noexcept;
  // Live slots 0..k-1 of packed ct f (T_w = 1: entries f E ..).
  std::uint32_t packed_entries(std::size_t f) const noexcept;
  // Tree entries after the input-side levels: k_w / 2^L.
  std::uint32_t entries_per_packed() const noexcept { return chunk_width >> input_levels; }
  // Entries of packed ct p that hold at least one sparse result.
  std::uint32_t live_entries(std::uint32_t p) const noexcept {
    const std::uint32_t masks = 1u << input_levels;
    return (sparse_in_packed(p) + masks - 1) / masks;
  }
  // Where the sparse results of a packed ct go: with a split point, entry e
  // folds the 2^L results e 2^L .. e 2^L + 2^L - 1, which the tree places at
  // the packed slots e + t E (t < 2^L, E = k_w / 2^L). So consecutive results
  // fill whole entries and a partly filled packed ct has few live entries,
  // each costing 2^L products. Without a split (L = 0) slot = result.
  std::uint32_t slot_of_sparse(std::uint32_t i) const noexcept {
    const std::uint32_t masks = 1u << input_levels, e = entries_per_packed();
    return (i % masks) * e + i / masks;
  }
  // The tree slot of a packed ct's k-th live entry (T_w = 1), and back: its
  // bit reversal over log2(E) bits, so that consecutive entries meet at the
  // first tree level (k and k + 1 sit at s and s + E/2) and a packed ct of m
  // live entries takes sum_j ceil(m / 2^j) merges, not sum_j min(m, E / 2^j)
  // (a partly filled one: 768 outputs in a 2048-slot chunk, 55 -> 25).
  // (The clear model's T_w > 1 layouts keep entry k in slot k.)
  std::uint32_t slot_of_entry(std::uint32_t k) const noexcept {
    if (rows_per_ct != 1) return k;
    std::uint32_t slot = 0;
    for (int b = 0; b < log_chunk - input_levels; ++b) slot = (slot << 1) | ((k >> b) & 1u);
    return slot;
  }
  std::uint32_t sparse_of_slot(std::uint32_t slot) const noexcept {
    const std::uint32_t masks = 1u << input_levels, e = entries_per_packed();
    return (slot % e) * masks + slot / e;
  }
  // Encoded weight polynomials: per live entry, chunk and input-side automorphism.
  std::size_t weight_polys() const noexcept;
  std::size_t input_key_switches() const noexcept { return input_cts() * ((std::size_t{1} << input_levels) - 1); }
  // The split's levels split into the hoisted ones (elements 2^j + 1 with
  // j <= kLinearHoistedLevels, the low levels) and the sequential ones above.
  int sequential_levels() const noexcept {
    const int m = log_degree_over_chunk();
    const int top = m + input_levels;  // the highest j used
    return top > kLinearHoistedLevels ? std::min(input_levels, top - kLinearHoistedLevels) : 0;
  }
  int hoisted_levels() const noexcept { return input_levels - sequential_levels(); }
  int log_degree_over_chunk() const noexcept {  // m with k_w = N / 2^m
    return std::countr_zero(poly_degree) - log_chunk;
  }
  // Sparse results packed into packed ct p (k_w except maybe the last).
  std::uint32_t sparse_in_packed(std::uint32_t p) const noexcept;
  // Key switches of the packing tree (levels L+1..) for one packed ct holding `count` sparse results.
  std::size_t tree_key_switches(std::uint32_t count) const noexcept;
  // The same for a packed ct of `entries` live tree entries (T_w = 1: in the
  // slots slot_of_entry(0..entries-1)).
  std::size_t tree_merges(std::uint32_t entries) const noexcept;

  std::uint32_t input_coeff(std::uint32_t t, std::uint32_t j) const noexcept { return t * chunk_width + j; }
  // Sub-body upload: with one output row per weight polynomial (n_w = 1), the
  // useful coefficient t*k_w of a product only reads body coefficients
  // t*k_w .. t*k_w + k_w - 1 of the input, i.e. the ones that hold inputs. The
  // client then sends only those; the server sets the others to zero, which
  // turns their phase into garbage that lands only on coefficients the
  // packing trace cancels exactly (docs/linear.md section 2).
  bool sub_body() const noexcept { return outputs_per_poly == 1; }
  // Body coefficients of input ct (g, c) that the upload carries, ascending
  // (all N unless sub_body()).
  std::vector<std::uint32_t> sent_positions(std::uint32_t g, std::uint32_t c) const;
  // Exponent (in (-N, N)) of W[s*n_w + r][c*k_w + j] in weight poly (s, c).
  std::int64_t weight_exponent(std::uint32_t r, std::uint32_t j) const noexcept {
    return static_cast<std::int64_t>(r) * rows_per_ct * chunk_width - static_cast<std::int64_t>(j);
  }
  std::uint32_t sparse_coeff(std::uint32_t t, std::uint32_t r) const noexcept {
    return (r * rows_per_ct + t) * chunk_width;
  }
  std::uint32_t packed_coeff(std::uint32_t t, std::uint32_t i, std::uint32_t r) const noexcept {
    return (r * rows_per_ct + t) * chunk_width + i;
  }
  // Output cell held by coefficient `pos` of packed ct (g, p); nullopt when unused.
  struct Cell {
    std::uint32_t row;
    std::uint32_t col;
  };
  std::optional<Cell> packed_cell(std::uint32_t g, std::uint32_t p, std::uint32_t pos) const noexcept;
  // The same by flat index f (the layout of packed_cts()).
  std::optional<Cell> packed_cell(std::size_t f, std::uint32_t pos) const noexcept;
  std::vector<std::uint32_t> used_positions(std::size_t f) const;
  std::size_t used_count(std::size_t f) const noexcept;
  // The used positions of packed ct f with their cells, ascending: what
  // used_positions and packed_cell give, in O(used) (a reply's decryption
  // reads every packed ct's cells).
  struct UsedCell {
    std::uint32_t pos;
    Cell cell;
  };
  std::vector<UsedCell> used_cells(std::size_t f) const;
  // Coefficients of packed ct (g, p) that hold outputs, ascending.
  std::vector<std::uint32_t> used_positions(std::uint32_t g, std::uint32_t p) const;
  // used_positions(g, p).size(), in O(n_w T_w) instead of O(N).
  std::size_t used_count(std::uint32_t g, std::uint32_t p) const noexcept;

  // Galois element of packing level j = 1..log_chunk: X -> X^(1 + 2N 2^(j-1) / k_w).
  std::uint64_t level_galois_element(int level) const noexcept {
    return 1 + (std::uint64_t{2} * poly_degree << (level - 1)) / chunk_width;
  }
  // Monomial shift of level j: k_w / 2^j.
  std::uint32_t level_shift(int level) const noexcept { return chunk_width >> level; }
};

// Noise model of a plan (variances in units of the R_Q phase), see docs/linear.md.
struct LinearNoise {
  double z = 7.6;               // tail factor: P(|noise| > z sigma) <= 2^-40 per value
  double upload = 0;            // k_w^2 * chunks * n_w * k_w * 128^2 * (fresh + rounding)
  double packing = 0;           // key switches of the tree, amplified by later levels
  double input_side = 0;        // input-side key switches times the folded weights and the trace
  double download_body = 0;
  double download_mask = 0;
  double flood = 0;
  // Mask precisions: the variance of the encoding's rounding term eps W
  // (|eps| <= 1/2, one per input: at most k 128^2 / 4). Not in total(): its outright bound
  // k 128 / 2 is taken off `allowed`; it counts in sigma_H (the flood hides it).
  double mask_rounding = 0;
  double body_bound = 0;        // |body rounding| <= this, outright (half a step of 2^body_bits)
  double total() const noexcept { return upload + packing + input_side + download_body + download_mask + flood; }
  double allowed = 0;           // largest |noise| that keeps the documented floor (phase units)
  // min(z * sqrt(total()), body_bound + z * sqrt(total() - download_body))
  double bound() const;
};

// A full plan: geometry, parameter set and every parameter of the protocol.
struct LinearPlan {
  LinearGeometry geo;
  ParamId param_id{};
  LinearPrecision precision = LinearPrecision::standard;
  bool input_signed = false;     // int8 (|x| <= 128) or uint8 (x <= 255)
  int plain_bits = 0;            // bits of t: exact and standard t = 2^plain_bits > 2 * max_abs_output
  std::uint64_t plain_modulus = 0;  // t (mask precisions: a factor of linear_online_modulus)
  int upload_drop_bits = 0;      // d: the body is sent rounded to multiples of 2^d
  int upload_bits = 0;           // bits per body coefficient sent: bits(Q) - d
  int body_bits = 0;             // download body modulus 2^body_bits
  int mask_bits = 0;             // download mask modulus 2^mask_bits
  int decomposition_bits = 0;    // gadget width of the packing Galois keys
  GadgetBase packing_base = GadgetBase::per_prime;  // and their base (linear_packing_gadget)
  Gadget packing_gadget() const noexcept { return Gadget{decomposition_bits, packing_base}; }
  int input_decomposition_bits = 0;  // gadget width of the input-side Galois keys (L > 0)
  // Packed cts leave in groups of kLinearSharedMaskGroup under one mask and
  // fresh secrets (shared_mask.h); a last group of one alone under s.
  bool shared_mask = false;
  // The reply's groups: packed cts (row-group major) f .. f + size - 1 leave
  // under one mask; groups of kLinearSharedMaskGroup with shared masks (the
  // last one smaller; a group of one is under s), else groups of one.
  struct MaskGroup {
    std::size_t first = 0, size = 1;
  };
  MaskGroup mask_group(std::size_t f) const noexcept;
  std::size_t mask_count() const noexcept;
  int privacy_bits = 0;          // S: flood std = 2^S sigma_H (kLinearMaxPrivacyBits at most)
  // The flood, per sent body value: F = 2^flood_shift C + V, C a rounded
  // Gaussian of std flood_std / 2^flood_shift (at most 2^48, exact in a
  // double), V uniform in [-2^(flood_shift-1), 2^(flood_shift-1)) (none when
  // flood_shift = 0): he/flood.h.
  double flood_std = 0;
  int flood_shift = 0;
  std::int64_t max_abs_output = 0;  // k * max|x| * 128
  std::int64_t error_floor = 0;     // largest |error| allowed in the result (0: exact)
  LinearNoise noise;

  // Exact on the standard layout (docs/linear.md, "Exact from two rows"):
  // with companion_shift s > 0, call row r is evaluated twice over the
  // standard encoding: evaluated row 2r is the standard product (t = 2^
  // plain_bits, |error| <= companion_floor), row 2r + 1 the same upload times
  // 2^s, whose phase 2^s Delta y + e (|e| < 2^s Delta / 2) gives y exactly
  // from the first: y = a + round(((phase - 2^s Delta a) mod Q) / (2^s Delta)).
  // geo holds the evaluated rows (2T); the wire and the upload carry T.
  int companion_shift = 0;
  std::int64_t companion_floor = 0;  // the standard row's |error| bound (companion plans)
  LinearNoise companion_noise;       // the companion row's terms and allowance
  int companion_body_bits = 0;       // the companion rows' reply values: modulus 2^this
  double companion_flood_std = 0;    // its flood (its hidden terms carry the 4^s upload)
  int companion_flood_shift = 0;
  // Rows of the call (the upload's, the wire's T): geo.shape.rows, halved for companion plans.
  std::uint32_t call_rows() const noexcept { return companion_shift > 0 ? geo.shape.rows / 2 : geo.shape.rows; }
  // Input ciphertext row groups of the upload (companion plans have T_w = 1).
  std::uint32_t call_row_groups() const noexcept { return companion_shift > 0 ? call_rows() : geo.row_groups; }
  // Whether evaluated row `row` is a companion row (flood, decoding).
  bool is_companion_row(std::uint32_t row) const noexcept { return companion_shift > 0 && (row & 1) != 0; }

  // Models (docs/linear.md).
  std::size_t bytes_up() const noexcept;    // upload message bytes
  std::size_t bytes_down() const noexcept;  // reply message bytes
  std::size_t products() const noexcept;    // plaintext x ciphertext products
  std::size_t weight_bytes() const noexcept;  // server memory of the encoded weights
  std::size_t key_switches() const noexcept;
  double server_ms_model() const noexcept;  // rough single-core estimate used to rank layouts
  // sigma_H: the standard deviation of the noise terms the flood must hide
  // (upload + packing + input side + mask rounding, phase units).
  double hidden_std() const noexcept;
  // Bound on the Kullback-Leibler divergence (nats) between what one output
  // value shows a semi-honest client for two weight matrices with the same
  // X W^T: (2 sigma_H + 2^flood_shift)^2 / (2 flood_std^2) (docs/linear.md
  // section 6). Values add up over a session (chain rule).
  double weight_privacy_nats() const noexcept;
};

// Largest |x W^T| for k inputs: k * (255 or 128) * 128.
std::int64_t linear_max_abs_output(std::uint32_t in, bool input_signed) noexcept;

// Plan for a given geometry choice; nullopt when the noise bound cannot hold.
std::optional<LinearPlan> plan_linear_with(LinearShape shape, LinearPrecision precision, bool input_signed,
                                           ParamId id, std::uint32_t chunk_width, std::uint32_t rows_per_ct,
                                           int input_levels = 0, int privacy_bits = 0);

// Gadget width of the input-side Galois keys (n2048_q54 only; 0: no split).
int linear_input_decomposition_bits(ParamId id) noexcept;
// Gadget width of the sequential single keys (smaller: their noise meets the
// folded weights like the hoisted ones', and there are only four).
int linear_sequential_decomposition_bits(ParamId id) noexcept;
// Base of the input-side and sequential keys: composed on n2048_q54 (9
// digits of 6 bits and 11 of 5 for the 54-bit Q, against 10 and 12 per
// 27-bit prime: fewer multiply-accumulates, keys and noise).
GadgetBase linear_input_gadget_base(ParamId id) noexcept;
// The input-side keys' and the sequential keys' gadgets (width 0: none).
inline Gadget linear_input_gadget(ParamId id) noexcept {
  return Gadget{linear_input_decomposition_bits(id), linear_input_gadget_base(id)};
}
inline Gadget linear_sequential_gadget(ParamId id) noexcept {
  return Gadget{linear_sequential_decomposition_bits(id), linear_input_gadget_base(id)};
}
// Gadget of the packing Galois keys (the trees' key switches): n2048_q54
// composed, 18 bits (three digits of the coefficient mod Q: four forward NTTs
// a merge instead of six, docs/linear.md section 4); others per prime at
// linear_decomposition_bits.
// With weight privacy (S > 0) the flood grows with 4^S times the trees'
// noise: those plans keep the per-prime 14-bit keys (the session has both).
Gadget linear_packing_gadget(ParamId id, int privacy_bits = 0) noexcept;
// Variance one key switch with this gadget adds (section 5 of
// docs/linear.md): digits x N x (4^w / 12) x sigma^2.
double key_switch_variance(ParamId id, const Gadget& gadget) noexcept;
// Whether the session's keys of this set include composed packing keys.
bool linear_composed_packing_available(ParamId id) noexcept;
// Gadget width of the per-prime keys of the reply (the shared-mask key; the
// packing keys where they are per prime): the set's default, except
// n4096_q108: 36, one digit per prime.
int linear_decomposition_bits(ParamId id) noexcept;
// Whether session keys carry a shared-mask key for this set (n2048_q54 only:
// the key costs 0.35 MB of the 8 MB session budget).
bool linear_shared_mask_available(ParamId id) noexcept;
// Packed cts per shared mask (the session's shared-mask key has this many targets).
inline constexpr std::size_t kLinearSharedMaskGroup = 4;
// Exact plans try the companion shifts from the largest down this many.
inline constexpr int kLinearCompanionShiftDrops = 6;
// Largest split the planner uses.
inline constexpr int kLinearMaxInputLevels = 7;
// The input-side Galois elements of the session keys for degree N: the
// hoisted (composed) ones and the sequential single ones (2^j + 1 for
// j = 6..log2(N): the split point uses j <= 9, the embedding lookup's query
// expansion j >= 6 up to N + 1).
std::vector<std::uint64_t> linear_input_galois_elements(std::size_t poly_degree);
std::vector<std::uint64_t> linear_sequential_galois_elements(std::size_t poly_degree);

// The layout a server holds a layer's weights in: one per (k, n, precision,
// privacy bits), whatever the row count of a call. One row per input ciphertext (T_w = 1),
// so a call of T rows is T row groups over the same encoded weights
// (docs/linear.md, "One encoding for every row count").
struct LinearLayout {
  ParamId param_id{};
  std::uint32_t chunk_width = 0;  // k_w; outputs_per_poly = N / k_w
  int input_levels = 0;           // L
  friend bool operator==(const LinearLayout&, const LinearLayout&) = default;
};

// The planner keeps the layouts whose weight polynomials are at least 2/3
// full: the server's memory per weight is then at most 1.5x the bytes of one
// NTT-form coefficient (8 for n2048_q54: 12 bytes per weight; 24 for the exact
// set n4096_q108). Layers whose encoding is under 4 MiB are exempt.
inline constexpr double kLinearMinWeightFill = 2.0 / 3.0;
// Layers whose encoding passes 64 MiB (an LM head, a table-sized layer)
// decide the server's memory: among their layouts the planner keeps only those
// at least 90% full when one exists (GPT-2's tied head: 361 -> 270 MB for
// 19.6 KB more upload per token, and a faster call: docs/linear.md, 2b).
inline constexpr std::size_t kLinearLargeLayerBytes = std::size_t{64} << 20;
inline constexpr double kLinearLargeLayerMinFill = 0.9;

// Ranking of layouts: traffic plus a single-core time model of one row (lower
// is better): one byte is worth 8 us.
double linear_plan_score(const LinearPlan& plan) noexcept;
// Every feasible one-row plan of a resident layout (T_w = 1, noise bound
// holds, weight memory within the cap), best score first.
// @throws Error(invalid_argument) for shapes out of the limits (rows ignored).
std::vector<LinearPlan> linear_plan_candidates(LinearShape shape, LinearPrecision precision, bool input_signed,
                                               int privacy_bits = 0);

// The layout the library uses for k -> n at this precision and weight
// privacy: the best candidate for unsigned one-row calls. Memoized.
// @throws Error(invalid_argument) for shapes or privacy bits out of the limits,
//         Error(bad_parameters) when no layout holds the noise bound.
LinearLayout linear_resident_layout(std::uint32_t in, std::uint32_t out, LinearPrecision precision,
                                    int privacy_bits = 0);

// The plan of a call: the resident layout with shape.rows row groups. Widths
// and noise are per value, so they do not depend on the row count.
// @throws Error(invalid_argument) for shapes out of the limits.
LinearPlan plan_linear(LinearShape shape, LinearPrecision precision, bool input_signed, int privacy_bits = 0);

std::string describe(const LinearPlan& plan);

}  // namespace fhellm::he
