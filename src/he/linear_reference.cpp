#include "he/linear_reference.h"

#include <optional>

#include "math/ntt.h"

namespace fhellm::he::clear {

Poly automorphism(const Poly& a, std::uint64_t galois_elt, const math::Modulus& q) {
  const std::size_t n = a.size();
  const std::uint64_t mask = 2 * n - 1;
  Poly out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = (i * galois_elt) & mask;
    if (e < n) out[e] = q.add(out[e], a[i]);
    else out[e - n] = q.sub(out[e - n], a[i]);
  }
  return out;
}

Poly multiply_monomial(const Poly& a, std::int64_t exponent, const math::Modulus& q) {
  const std::int64_t n = static_cast<std::int64_t>(a.size());
  std::int64_t e = exponent % (2 * n);
  if (e < 0) e += 2 * n;
  Poly out(a.size(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t p = (i + e) % (2 * n);
    if (p < n) out[p] = a[i];
    else out[p - n] = q.negate(a[i]);
  }
  return out;
}

Poly input_poly(const LinearGeometry& geo, const std::int32_t* x, std::uint32_t g, std::uint32_t c,
                const math::Modulus& q) {
  Poly p(geo.poly_degree, 0);
  for (std::uint32_t t = 0; t < geo.rows_per_ct; ++t) {
    const std::uint64_t row = std::uint64_t{g} * geo.rows_per_ct + t;
    if (row >= geo.shape.rows) break;
    for (std::uint32_t j = 0; j < geo.chunk_width; ++j) {
      const std::uint64_t col = std::uint64_t{c} * geo.chunk_width + j;
      if (col >= geo.shape.in) break;
      p[geo.input_coeff(t, j)] = q.from_signed(x[row * geo.shape.in + col]);
    }
  }
  return p;
}

std::uint64_t input_scale(const LinearGeometry& geo, const math::Modulus& q) {
  return q.inverse(std::uint64_t{1} << geo.input_levels);
}

std::uint64_t weight_scale(const LinearGeometry& geo, const math::Modulus& q) {
  return q.inverse(geo.chunk_width >> geo.input_levels);
}

std::vector<std::int64_t> weight_poly(const LinearGeometry& geo, const std::int8_t* w, std::uint32_t s,
                                      std::uint32_t c) {
  const std::int64_t n = geo.poly_degree;
  std::vector<std::int64_t> p(geo.poly_degree, 0);
  for (std::uint32_t r = 0; r < geo.outputs_per_poly; ++r) {
    const std::uint64_t out_row = std::uint64_t{s} * geo.outputs_per_poly + r;
    if (out_row >= geo.shape.out) break;
    for (std::uint32_t j = 0; j < geo.chunk_width; ++j) {
      const std::uint64_t col = std::uint64_t{c} * geo.chunk_width + j;
      if (col >= geo.shape.in) break;
      const std::int64_t e = geo.weight_exponent(r, j);
      const std::int64_t v = w[out_row * geo.shape.in + col];
      if (e >= 0) p[e] += v;
      else p[e + n] -= v;  // X^e = -X^(N+e)
    }
  }
  return p;
}

Poly pack_tree(const LinearGeometry& geo, std::vector<Poly> entries, const math::Modulus& q) {
  std::vector<std::optional<Poly>> level(geo.entries_per_packed());
  for (std::size_t i = 0; i < entries.size() && i < level.size(); ++i)
    if (!entries[i].empty()) level[i] = std::move(entries[i]);
  for (int j = geo.input_levels + 1; j <= geo.log_chunk; ++j) {
    const std::uint32_t half = geo.chunk_width >> j;
    const std::uint64_t gal = geo.level_galois_element(j);
    const std::int64_t shift = geo.level_shift(j);
    for (std::uint32_t i = 0; i < half; ++i) {
      std::optional<Poly>& even = level[i];
      std::optional<Poly>& odd = level[i + half];
      if (!even && !odd) continue;
      Poly e = even ? *even : Poly(geo.poly_degree, 0);
      Poly o = odd ? multiply_monomial(*odd, shift, q) : Poly(geo.poly_degree, 0);
      Poly sum(geo.poly_degree), diff(geo.poly_degree);
      for (std::size_t k = 0; k < sum.size(); ++k) {
        sum[k] = q.add(e[k], o[k]);
        diff[k] = q.sub(e[k], o[k]);
      }
      const Poly rot = automorphism(diff, gal, q);
      for (std::size_t k = 0; k < sum.size(); ++k) sum[k] = q.add(sum[k], rot[k]);
      even = std::move(sum);
    }
    level.resize(half);
  }
  return level[0] ? *level[0] : Poly(geo.poly_degree, 0);
}

namespace {
using IPoly = std::vector<std::int64_t>;
IPoly automorphism_i(const IPoly& a, std::uint64_t g) {
  const std::size_t n = a.size();
  IPoly out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = (i * g) & (2 * n - 1);
    if (e < n) out[e] += a[i];
    else out[e - n] -= a[i];
  }
  return out;
}
IPoly monomial_i(const IPoly& a, std::int64_t shift) {
  const std::int64_t n = static_cast<std::int64_t>(a.size());
  IPoly out(a.size(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t p = (i + shift) % (2 * n);
    if (p < n) out[p] += a[i];
    else out[p - n] -= a[i];
  }
  return out;
}
}  // namespace

std::uint64_t input_galois_element(const LinearGeometry& geo, std::uint32_t mask) {
  std::uint64_t g = 1;
  const std::uint64_t two_n = 2 * std::uint64_t{geo.poly_degree};
  for (int j = 1; j <= geo.input_levels; ++j)
    if (mask & (1u << (j - 1))) g = (g * geo.level_galois_element(j)) % two_n;
  return g;
}

std::vector<std::vector<std::int64_t>> folded_weight_polys(const LinearGeometry& geo, const std::int8_t* w,
                                                           std::uint32_t p, std::uint32_t i, std::uint32_t c) {
  const int levels = geo.input_levels;
  const std::uint32_t count = geo.sparse_in_packed(p);
  // Level 0: the tree leaves of entry i are the slots i + t E (t < 2^L), which
  // hold the sparse results i 2^L + t (slot_of_sparse), each with the mask 0.
  std::vector<std::vector<IPoly>> cur(std::size_t{1} << levels);
  for (std::uint32_t t = 0; t < cur.size(); ++t) {
    const std::uint32_t idx = geo.sparse_of_slot(i + t * geo.entries_per_packed());
    if (idx < count) cur[t].push_back(weight_poly(geo, w, p * geo.chunk_width + idx, c));
  }
  for (int j = 1; j <= levels; ++j) {
    const std::size_t half = cur.size() / 2;
    const std::int64_t shift = geo.level_shift(j);
    const std::uint64_t gal = geo.level_galois_element(j);
    const std::size_t masks = std::size_t{1} << (j - 1);
    std::vector<std::vector<IPoly>> next(half);
    for (std::size_t t = 0; t < half; ++t) {
      const auto& even = cur[t];
      const auto& odd = cur[t + half];
      if (even.empty() && odd.empty()) continue;
      next[t].assign(2 * masks, IPoly(geo.poly_degree, 0));
      for (std::size_t b = 0; b < masks; ++b) {
        IPoly e = even.empty() ? IPoly(geo.poly_degree, 0) : even[b];
        IPoly o = odd.empty() ? IPoly(geo.poly_degree, 0) : monomial_i(odd[b], shift);
        IPoly sum(geo.poly_degree), diff(geo.poly_degree);
        for (std::size_t k = 0; k < sum.size(); ++k) {
          sum[k] = e[k] + o[k];
          diff[k] = e[k] - o[k];
        }
        next[t][b] = std::move(sum);
        next[t][b | masks] = automorphism_i(diff, gal);
      }
    }
    cur = std::move(next);
  }
  return cur[0];
}

std::vector<std::int64_t> linear_product(const LinearGeometry& geo, const std::int32_t* x, const std::int8_t* w,
                                         const math::Modulus& q) {
  // Every tree entry of every row group, in the order the packed cts take
  // them (row group, then its packed cts, then their live entries).
  std::vector<Poly> entries;
  const std::uint64_t in_scale = input_scale(geo, q), w_scale = weight_scale(geo, q);
  for (std::uint32_t g = 0; g < geo.row_groups; ++g) {
    std::vector<Poly> inputs;
    for (std::uint32_t c = 0; c < geo.chunks; ++c) {
      Poly in = input_poly(geo, x, g, c, q);
      for (auto& v : in) v = q.mul(v, in_scale);
      inputs.push_back(std::move(in));
    }
    // Input side of the split: sigma_mask(input_c) for every mask.
    const std::uint32_t masks = 1u << geo.input_levels;
    std::vector<std::vector<Poly>> rotated(geo.chunks);
    for (std::uint32_t c = 0; c < geo.chunks; ++c)
      for (std::uint32_t b = 0; b < masks; ++b) rotated[c].push_back(automorphism(inputs[c], input_galois_element(geo, b), q));
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p)
      for (std::uint32_t i = 0; i < geo.live_entries(p); ++i) {
        Poly acc(geo.poly_degree, 0);
        for (std::uint32_t c = 0; c < geo.chunks; ++c) {
          const auto folded = folded_weight_polys(geo, w, p, i, c);
          for (std::uint32_t b = 0; b < folded.size(); ++b) {
            Poly fp(geo.poly_degree);
            for (std::size_t k = 0; k < fp.size(); ++k) fp[k] = q.mul(q.from_signed(folded[b][k]), w_scale);
            const Poly prod = math::negacyclic_multiply_schoolbook(rotated[c][b], fp, q);
            for (std::size_t k = 0; k < acc.size(); ++k) acc[k] = q.add(acc[k], prod[k]);
          }
        }
        entries.push_back(std::move(acc));
      }
  }
  // The packed cts (LinearGeometry::packed_cts: with T_w = 1 rows share them).
  std::vector<std::int64_t> y(std::size_t{geo.shape.rows} * geo.shape.out, 0);
  std::size_t next = 0;
  for (std::size_t f = 0; f < geo.packed_cts(); ++f) {
    std::vector<Poly> slots(geo.entries_per_packed());
    for (std::uint32_t i = 0; i < geo.packed_entries(f); ++i) slots[geo.slot_of_entry(i)] = std::move(entries[next++]);
    const Poly packed = pack_tree(geo, std::move(slots), q);
    // Positions without a cell are not read (garbage there is cancelled by
    // the trace only where the slot holds no data).
    for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos)
      if (const auto cell = geo.packed_cell(f, pos))
        y[std::size_t{cell->row} * geo.shape.out + cell->col] = q.to_centered(packed[pos]);
  }
  return y;
}

std::vector<std::int64_t> matmul(std::uint32_t rows, std::uint32_t in, std::uint32_t out, const std::int32_t* x,
                                 const std::int8_t* w) {
  std::vector<std::int64_t> y(std::size_t{rows} * out, 0);
  for (std::uint32_t t = 0; t < rows; ++t)
    for (std::uint32_t o = 0; o < out; ++o) {
      std::int64_t acc = 0;
      for (std::uint32_t j = 0; j < in; ++j) acc += std::int64_t{x[std::size_t{t} * in + j]} * w[std::size_t{o} * in + j];
      y[std::size_t{t} * out + o] = acc;
    }
  return y;
}

}  // namespace fhellm::he::clear
