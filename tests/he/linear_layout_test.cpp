// Layout planner and clear-domain model of the encrypted matrix product: the
// index math (input/weight/packed positions, the packing tree) checked against
// the integer matmul on plain polynomials, for many shapes and geometries.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <tuple>

#include "fhellm/error.h"
#include "he/linear_layout.h"
#include "he/linear_reference.h"
#include "math/ntt.h"

namespace fhellm::he {
namespace {

const math::Modulus kQ(1152921504606830593ULL);  // odd 60-bit modulus (prime), any odd q works here

struct Case {
  std::uint32_t n_poly, kw, tw, rows, in, out;
  int levels = 0;  // split point L
};

std::vector<std::int32_t> random_x(std::size_t count, bool extreme, std::mt19937_64& rng, int lo = -128,
                                   int hi = 255) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<std::int32_t> x(count);
  for (auto& v : x) v = extreme ? hi : d(rng);
  return x;
}
std::vector<std::int8_t> random_w(std::size_t count, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<std::int8_t> w(count);
  for (auto& v : w) v = static_cast<std::int8_t>(d(rng));
  return w;
}

class LinearClearOracle : public ::testing::TestWithParam<Case> {};

TEST_P(LinearClearOracle, EqualsIntegerMatmul) {
  const Case c = GetParam();
  const auto geo = LinearGeometry::make({c.rows, c.in, c.out}, c.n_poly, c.kw, c.tw, c.levels);
  std::mt19937_64 rng(c.n_poly * 131 + c.kw * 7 + c.rows * 3 + c.in + c.out);
  const auto x = random_x(std::size_t{c.rows} * c.in, false, rng);
  const auto w = random_w(std::size_t{c.out} * c.in, rng);
  const auto expect = clear::matmul(c.rows, c.in, c.out, x.data(), w.data());
  const auto got = clear::linear_product(geo, x.data(), w.data(), kQ);
  ASSERT_EQ(got.size(), expect.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expect[i]) << "cell " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearClearOracle,
    ::testing::Values(Case{16, 1, 1, 1, 1, 1}, Case{16, 4, 1, 1, 3, 5}, Case{16, 4, 2, 3, 7, 9},
                      Case{16, 16, 1, 1, 16, 1}, Case{16, 2, 8, 9, 3, 2}, Case{32, 8, 2, 5, 20, 13},
                      Case{64, 8, 4, 7, 19, 37}, Case{64, 64, 1, 1, 50, 3}, Case{64, 16, 4, 4, 33, 70},
                      Case{64, 1, 64, 70, 1, 5}, Case{128, 32, 2, 3, 100, 300}, Case{128, 4, 1, 1, 17, 129},
                      Case{256, 256, 1, 2, 255, 2}, Case{256, 16, 16, 17, 40, 11}, Case{16, 4, 1, 1, 3, 5, 1},
                      Case{64, 8, 4, 7, 19, 37, 2}, Case{64, 16, 4, 4, 33, 70, 3}, Case{128, 32, 2, 3, 100, 300, 3},
                      // T_w = 1 with rows sharing packed cts (partly filled
                      // per row; entries of two rows in one packed ct).
                      Case{64, 16, 1, 5, 40, 9, 2}, Case{128, 32, 1, 7, 50, 70, 3}, Case{64, 8, 1, 9, 8, 100, 1},
                      Case{256, 64, 1, 3, 64, 20, 4}, Case{64, 64, 1, 6, 50, 3, 5},
                      Case{64, 8, 1, 2, 20, 9, 3}, Case{128, 4, 1, 1, 17, 129, 2}, Case{64, 64, 1, 1, 50, 3, 3}, Case{64, 32, 1, 1, 30, 7, 5},
                      Case{128, 16, 2, 3, 40, 20, 4}));

TEST(LinearClearOracle, PackTreeLeavesNoGarbageAndScalesByKw) {
  // Sparse inputs with useful values at multiples of k_w and random garbage
  // elsewhere: the tree must return exactly k_w * value at (u*k_w + i) and
  // zero where no sparse input exists.
  const auto geo = LinearGeometry::make({1, 8, 16 * 3}, 64, 8, 1);  // N/k_w = 8 values each
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<std::uint64_t> any(0, kQ.value() - 1);
  const std::uint32_t count = 5;  // fewer than k_w: positions with i >= 5 must be 0
  std::vector<clear::Poly> sparse(count, clear::Poly(64));
  std::vector<std::vector<std::uint64_t>> values(count, std::vector<std::uint64_t>(8));
  for (std::uint32_t i = 0; i < count; ++i)
    for (std::uint32_t p = 0; p < 64; ++p) {
      sparse[i][p] = any(rng);
      if (p % 8 == 0) values[i][p / 8] = sparse[i][p];
    }
  const clear::Poly packed = clear::pack_tree(geo, sparse, kQ);
  for (std::uint32_t u = 0; u < 8; ++u)
    for (std::uint32_t i = 0; i < 8; ++i) {
      const std::uint64_t expect = i < count ? kQ.mul(values[i][u], 8) : 0;
      EXPECT_EQ(packed[u * 8 + i], expect) << "u=" << u << " i=" << i;
    }
}

// What the noise model (LinearNoise::packing) assumes of the tree: anything
// added to tree entry i at level L (key-switch noise of that level, or any
// polynomial) reaches only the packed coefficients of entry i, those
// congruent to i mod k_w / 2^L, multiplied by at most 2^(levels left): one
// entry per level reaches a given coefficient, not all of them.
TEST(LinearClearOracle, PackTreeKeepsEachEntryInItsOwnCoefficients) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> small(-50, 50);
  for (const Case c : {Case{64, 16, 1, 1, 16, 64, 0}, Case{64, 16, 1, 1, 16, 64, 2}, Case{128, 32, 1, 1, 32, 128, 1},
                       Case{128, 128, 1, 1, 128, 128, 3}}) {
    const auto geo = LinearGeometry::make({c.rows, c.in, c.out}, c.n_poly, c.kw, c.tw, c.levels);
    const std::uint32_t entries = geo.entries_per_packed();
    const std::int64_t gain = std::int64_t{1} << (geo.log_chunk - geo.input_levels);
    for (std::uint32_t i = 0; i < entries; ++i) {
      std::vector<clear::Poly> level(entries);
      clear::Poly z(geo.poly_degree);
      std::int64_t largest = 0;
      for (auto& v : z) {
        const int e = small(rng);
        largest = std::max<std::int64_t>(largest, std::abs(e));
        v = kQ.from_signed(e);
      }
      level[i] = z;
      const clear::Poly out = clear::pack_tree(geo, std::move(level), kQ);
      bool reached = false;
      for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos) {
        const std::int64_t v = kQ.to_centered(out[pos]);
        if (pos % entries != i) {
          ASSERT_EQ(v, 0) << "entry " << i << " reached coefficient " << pos << " (L=" << c.levels << ")";
        } else {
          ASSERT_LE(std::abs(v), gain * largest) << "entry " << i << " pos " << pos;
          reached = reached || v != 0;
        }
      }
      EXPECT_TRUE(reached);
    }
  }
}

// Sub-body upload (n_w = 1): the server sets every body coefficient the
// client does not send to zero, so the input polynomial carries arbitrary
// garbage there. The packed results must not depend on it: products read only
// the sent coefficients at the useful positions, and the trace cancels the rest.
TEST(LinearClearOracle, SubBodyGarbageCancels) {
  for (const Case c : {Case{64, 16, 4, 3, 40, 21}, Case{64, 64, 1, 1, 50, 70}, Case{128, 32, 4, 2, 45, 9, 2}}) {
    const auto geo = LinearGeometry::make({c.rows, c.in, c.out}, c.n_poly, c.kw, c.tw, c.levels);
    ASSERT_TRUE(geo.sub_body());
    std::mt19937_64 rng(c.in * 17 + c.out);
    std::uniform_int_distribution<std::uint64_t> any(0, kQ.value() - 1);
    const auto x = random_x(std::size_t{c.rows} * c.in, false, rng);
    const auto w = random_w(std::size_t{c.out} * c.in, rng);
    std::vector<clear::Poly> leaves;
    // Inputs with garbage on every unsent coefficient.
    std::vector<clear::Poly> inputs;
    const std::uint64_t in_scale = clear::input_scale(geo, kQ), w_scale = clear::weight_scale(geo, kQ);
    for (std::uint32_t ch = 0; ch < geo.chunks; ++ch) {
      clear::Poly in = clear::input_poly(geo, x.data(), 0, ch, kQ);
      for (auto& v : in) v = kQ.mul(v, in_scale);
      const auto sent = geo.sent_positions(0, ch);
      const std::set<std::uint32_t> kept(sent.begin(), sent.end());
      for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos)
        if (!kept.count(pos)) in[pos] = any(rng);
      inputs.push_back(std::move(in));
    }
    // Level-L tree entries: sum_c sum_mask sigma_mask(in_c) * folded[mask].
    const auto expect = clear::matmul(c.rows, c.in, c.out, x.data(), w.data());
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) {
      std::vector<clear::Poly> entries(geo.entries_per_packed(), clear::Poly(geo.poly_degree, 0));
      for (std::uint32_t i = 0; i < geo.live_entries(p); ++i)
        for (std::uint32_t ch = 0; ch < geo.chunks; ++ch) {
          const auto folded = clear::folded_weight_polys(geo, w.data(), p, i, ch);
          for (std::uint32_t mask = 0; mask < folded.size(); ++mask) {
            const clear::Poly rotated = clear::automorphism(inputs[ch], clear::input_galois_element(geo, mask), kQ);
            for (std::uint32_t a = 0; a < geo.poly_degree; ++a)
              for (std::uint32_t b = 0; b < geo.poly_degree; ++b) {
                if (folded[mask][b] == 0) continue;
                const std::uint64_t prod = kQ.mul(rotated[a], kQ.mul(kQ.from_signed(folded[mask][b]), w_scale));
                const std::uint32_t e = a + b;
                auto& dst = entries[i][e % geo.poly_degree];
                dst = e < geo.poly_degree ? kQ.add(dst, prod) : kQ.sub(dst, prod);
              }
          }
        }
      const clear::Poly packed = clear::pack_tree(geo, std::move(entries), kQ);
      for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos) {
        const auto cell = geo.packed_cell(0, p, pos);
        if (!cell) continue;
        const std::uint64_t v = packed[pos];
        const std::int64_t centred = v > kQ.value() / 2 ? static_cast<std::int64_t>(v - kQ.value())
                                                        : static_cast<std::int64_t>(v);
        ASSERT_EQ(centred, expect[std::size_t{cell->row} * c.out + cell->col]) << "pos " << pos;
      }
    }
  }
}

// The server's scaling constants (clear::input_scale, clear::weight_scale)
// must undo the trace's factor k_w without amplifying what the input carries
// besides x: an error e on every input coefficient (the upload rounding) must
// reach each output as sum_j w_j e_j over the coefficients that output reads,
// at most (chunks * n_w * k_w) * 128 * |e|, not k_w times that.
TEST(LinearClearOracle, UploadErrorIsNotAmplifiedByTheTrace) {
  for (const Case c : {Case{64, 16, 1, 1, 40, 21, 0}, Case{64, 16, 1, 1, 40, 21, 2}, Case{64, 64, 1, 1, 50, 70, 3},
                       Case{128, 32, 2, 2, 45, 9, 1}}) {
    const auto geo = LinearGeometry::make({c.rows, c.in, c.out}, c.n_poly, c.kw, c.tw, c.levels);
    std::mt19937_64 rng(c.in * 31 + c.out + c.levels);
    const auto x = random_x(std::size_t{c.rows} * c.in, false, rng);
    const auto w = random_w(std::size_t{c.out} * c.in, rng);
    const std::vector<std::int8_t> w_max(w.size(), -128);
    std::uniform_int_distribution<int> err(-1, 1);
    const std::uint64_t in_scale = clear::input_scale(geo, kQ), w_scale = clear::weight_scale(geo, kQ);
    for (const auto* weights : {&w, &w_max}) {
      // y with an error of +-1 added to every input coefficient (used or not).
      std::vector<std::int64_t> got(std::size_t{c.rows} * c.out, 0);
      for (std::uint32_t g = 0; g < geo.row_groups; ++g) {
        std::vector<clear::Poly> inputs;
        for (std::uint32_t ch = 0; ch < geo.chunks; ++ch) {
          clear::Poly in = clear::input_poly(geo, x.data(), g, ch, kQ);
          for (auto& v : in) v = kQ.mul(kQ.add(v, kQ.from_signed(err(rng))), in_scale);
          inputs.push_back(std::move(in));
        }
        for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) {
          std::vector<clear::Poly> entries(geo.entries_per_packed(), clear::Poly(geo.poly_degree, 0));
          for (std::uint32_t i = 0; i < geo.live_entries(p); ++i)
            for (std::uint32_t ch = 0; ch < geo.chunks; ++ch) {
              const auto folded = clear::folded_weight_polys(geo, weights->data(), p, i, ch);
              for (std::uint32_t mask = 0; mask < folded.size(); ++mask) {
                clear::Poly fp(geo.poly_degree);
                for (std::size_t k = 0; k < fp.size(); ++k) fp[k] = kQ.mul(kQ.from_signed(folded[mask][k]), w_scale);
                const clear::Poly rotated =
                    clear::automorphism(inputs[ch], clear::input_galois_element(geo, mask), kQ);
                const clear::Poly prod = math::negacyclic_multiply_schoolbook(rotated, fp, kQ);
                for (std::size_t k = 0; k < prod.size(); ++k) entries[i][k] = kQ.add(entries[i][k], prod[k]);
              }
            }
          const clear::Poly packed = clear::pack_tree(geo, std::move(entries), kQ);
          for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos)
            if (const auto cell = geo.packed_cell(g, p, pos))
              got[std::size_t{cell->row} * c.out + cell->col] = kQ.to_centered(packed[pos]);
        }
      }
      const auto expect = clear::matmul(c.rows, c.in, c.out, x.data(), weights->data());
      const std::int64_t bound = std::int64_t{geo.chunks} * geo.outputs_per_poly * geo.chunk_width * 128;
      std::int64_t largest = 0;
      for (std::size_t i = 0; i < got.size(); ++i) largest = std::max(largest, std::abs(got[i] - expect[i]));
      EXPECT_LE(largest, bound) << "k_w=" << c.kw << " L=" << c.levels;
      EXPECT_GT(largest, 0) << "the error must reach the output (else the test checks nothing)";
    }
  }
}

TEST(LinearGeometry, SentPositionsAreTheInputCoefficients) {
  const auto full = LinearGeometry::make({1, 40, 9}, 64, 16, 2);  // n_w = 2: the whole body
  EXPECT_FALSE(full.sub_body());
  EXPECT_EQ(full.sent_positions(0, 0).size(), 64u);
  const auto sub = LinearGeometry::make({3, 40, 9}, 64, 16, 4);  // n_w = 1, two row groups, chunks 16,16,8
  ASSERT_TRUE(sub.sub_body());
  EXPECT_EQ(sub.sent_positions(0, 0).size(), 3u * 16);
  EXPECT_EQ(sub.sent_positions(0, 2).size(), 3u * 8);
  EXPECT_EQ(sub.sent_positions(0, 2).back(), 2u * 16 + 7);
  std::size_t total = 0;
  for (std::uint32_t g = 0; g < sub.row_groups; ++g)
    for (std::uint32_t c = 0; c < sub.chunks; ++c) {
      const auto pos = sub.sent_positions(g, c);
      for (std::uint32_t p : pos) EXPECT_LT(p % 16, c == 2 ? 8u : 16u);
      total += pos.size();
    }
  EXPECT_EQ(total, 3u * 40);  // one body value per input value
}

TEST(LinearClearOracle, ExtremeRows) {
  const auto geo = LinearGeometry::make({3, 40, 9}, 64, 16, 2);
  std::vector<std::int32_t> x(3 * 40);
  for (int i = 0; i < 40; ++i) {
    x[i] = -128;
    x[40 + i] = 255;
    x[80 + i] = 0;
  }
  std::vector<std::int8_t> w(9 * 40);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i % 3 == 0) ? -128 : 127;
  const auto expect = clear::matmul(3, 40, 9, x.data(), w.data());
  EXPECT_EQ(clear::linear_product(geo, x.data(), w.data(), kQ), expect);
}

TEST(LinearLayout, RejectsBadShapesAndGeometries) {
  EXPECT_THROW(LinearGeometry::make({0, 1, 1}, 2048, 1, 1), Error);
  EXPECT_THROW(LinearGeometry::make({1, kLinearMaxTableIn + 1, 1}, 2048, 1, 1), Error);
  EXPECT_THROW(plan_linear({1, 8193, 1}, LinearPrecision::standard, false), Error);  // a table's k only
  // A geometry holds up to 1024 evaluated rows (an exact call's 512 rows, each twice); a call 512.
  EXPECT_THROW(LinearGeometry::make({kLinearMaxEvaluatedRows + 1, 1, 1}, 2048, 1, 1), Error);
  EXPECT_THROW(plan_linear({kLinearMaxRows + 1, 1, 1}, LinearPrecision::standard, false), Error);
  EXPECT_THROW(plan_linear({kLinearMaxRows + 1, 1, 1}, LinearPrecision::exact, false), Error);
  EXPECT_THROW(LinearGeometry::make({1, 1, 131073}, 2048, 1, 1), Error);
  EXPECT_THROW(LinearGeometry::make({1, 1, 1}, 2048, 3, 1), Error);
  EXPECT_THROW(LinearGeometry::make({1, 1, 1}, 2048, 1024, 4), Error);
  try {
    (void)plan_linear({1, 9000, 1}, LinearPrecision::exact, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  EXPECT_THROW(plan_linear({1, 0, 5}, LinearPrecision::standard, false), Error);
  EXPECT_EQ(parse_linear_precision("default"), LinearPrecision::standard);
  EXPECT_EQ(parse_linear_precision("exact"), LinearPrecision::exact);
  EXPECT_THROW(parse_linear_precision("fast"), Error);
}

TEST(LinearLayout, UsedPositionsMatchCells) {
  const auto geo = LinearGeometry::make({5, 100, 77}, 256, 16, 4);
  std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
  for (std::uint32_t g = 0; g < geo.row_groups; ++g)
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p)
      for (std::uint32_t pos : geo.used_positions(g, p)) {
        const auto cell = geo.packed_cell(g, p, pos);
        ASSERT_TRUE(cell.has_value());
        EXPECT_TRUE(seen.insert({cell->row, cell->col}).second) << "cell seen twice";
      }
  EXPECT_EQ(seen.size(), 5u * 77u);  // every output exactly once
  // The enumeration equals a scan of all positions with packed_cell.
  for (const Case c : {Case{256, 16, 4, 5, 100, 77}, Case{64, 8, 8, 3, 20, 9}, Case{64, 64, 1, 1, 50, 200},
                       Case{128, 4, 2, 7, 9, 1000}, Case{64, 16, 4, 1, 40, 3}}) {
    const auto geo = LinearGeometry::make({c.rows, c.in, c.out}, c.n_poly, c.kw, c.tw);
    for (std::uint32_t g = 0; g < geo.row_groups; ++g)
      for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) {
        std::vector<std::uint32_t> scan;
        for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos)
          if (geo.packed_cell(g, p, pos)) scan.push_back(pos);
        EXPECT_EQ(geo.used_positions(g, p), scan) << c.n_poly << " " << c.kw << " " << c.tw << " g=" << g << " p=" << p;
        EXPECT_EQ(geo.used_count(g, p), scan.size());
      }
  }
}

// The flat layout (packed_cts, used_positions(f), packed_cell(f, pos)): every
// output cell exactly once, the enumeration equal to a scan, the counts equal,
// and with T_w = 1 the rows' entries sharing packed cts (fewer packed cts and
// tree merges than a packed ct per row).
TEST(LinearLayout, FlatPackedCtsHoldEveryCellOnce) {
  for (const Case c : {Case{64, 16, 1, 5, 40, 9, 2}, Case{128, 32, 1, 7, 50, 70, 3}, Case{2048, 1024, 1, 4, 768, 768, 5},
                       Case{2048, 1024, 1, 3, 768, 2304, 5}, Case{2048, 2048, 1, 3, 3072, 768, 5},
                       Case{64, 8, 4, 3, 20, 9, 1}}) {
    const auto geo = LinearGeometry::make({c.rows, c.in, c.out}, c.n_poly, c.kw, c.tw, c.levels);
    std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
    std::size_t entries = 0;
    for (std::size_t f = 0; f < geo.packed_cts(); ++f) {
      std::vector<std::uint32_t> scan;
      for (std::uint32_t pos = 0; pos < geo.poly_degree; ++pos)
        if (const auto cell = geo.packed_cell(f, pos)) {
          scan.push_back(pos);
          EXPECT_TRUE(seen.insert({cell->row, cell->col}).second) << "cell seen twice, f=" << f;
        }
      EXPECT_EQ(geo.used_positions(f), scan) << "f=" << f;
      EXPECT_EQ(geo.used_count(f), scan.size()) << "f=" << f;
      const auto cells = geo.used_cells(f);
      ASSERT_EQ(cells.size(), scan.size()) << "f=" << f;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        EXPECT_EQ(cells[i].pos, scan[i]) << "f=" << f;
        const auto cell = geo.packed_cell(f, scan[i]);
        EXPECT_EQ(cells[i].cell.row, cell->row) << "f=" << f << " pos=" << scan[i];
        EXPECT_EQ(cells[i].cell.col, cell->col) << "f=" << f << " pos=" << scan[i];
      }
      entries += geo.packed_entries(f);
    }
    EXPECT_EQ(seen.size(), std::size_t{c.rows} * c.out);
    EXPECT_EQ(entries, std::size_t{geo.row_groups} * geo.row_entries());
    if (c.tw == 1)
      EXPECT_LE(geo.packed_cts(), std::size_t{c.rows} * geo.packed_per_group);
  }
  // 768 outputs (n_w = 2, L = 5: 12 of 32 entries per row): 8 rows in 3
  // packed cts instead of 8, with 12 x 8 merges at the first level for 96
  // entries and halving after instead of 12 + 8 + 4 + 2 + 1 per row.
  const auto geo = LinearGeometry::make({8, 768, 768}, 2048, 1024, 1, 5);
  EXPECT_EQ(geo.packed_cts(), 3u);
  std::size_t merges = 0;
  for (std::size_t f = 0; f < geo.packed_cts(); ++f) merges += geo.tree_merges(geo.packed_entries(f));
  EXPECT_EQ(merges, 2 * (16 + 8 + 4 + 2 + 1) + (16 + 8 + 4 + 2 + 1));
  EXPECT_LT(merges, 8 * geo.tree_key_switches(geo.sparse_in_packed(0)));
}

TEST(LinearLayout, PlansHoldTheirNoiseBoundForTheLargestShapes) {
  for (auto prec : {LinearPrecision::standard, LinearPrecision::exact}) {
    for (LinearShape s : {LinearShape{1, 768, 2304}, LinearShape{1, 8192, 2048}, LinearShape{32, 8192, 8192},
                          LinearShape{1, 1, 1}, LinearShape{64, 3072, 768}}) {
      const LinearPlan plan = plan_linear(s, prec, false);
      EXPECT_LE(plan.noise.bound(), plan.noise.allowed) << describe(plan);
      EXPECT_GT(plan.upload_bits, 0);
      EXPECT_EQ(plan.call_rows(), s.rows);
      EXPECT_EQ(plan.geo.shape.in, s.in);
      EXPECT_EQ(plan.geo.shape.out, s.out);
      if (prec == LinearPrecision::exact) {
        // Exact: the standard layout, every row evaluated twice; the companion
        // row's noise within half its step, the standard row's within its floor.
        EXPECT_EQ(plan.error_floor, 0);
        EXPECT_EQ(plan.geo.shape.rows, 2 * s.rows);
        EXPECT_GT(plan.companion_shift, 0);
        EXPECT_LE(plan.companion_noise.bound(), plan.companion_noise.allowed) << describe(plan);
        EXPECT_GE(plan.companion_floor, plan.max_abs_output >> 16);  // at least the default floor
        const LinearLayout standard = linear_resident_layout(s.in, s.out, LinearPrecision::standard);
        EXPECT_EQ(linear_resident_layout(s.in, s.out, LinearPrecision::exact), standard);
      } else {
        EXPECT_EQ(plan.geo.shape, s);
        EXPECT_EQ(plan.companion_shift, 0);
        EXPECT_EQ(plan.error_floor, plan.max_abs_output >> 16);
      }
    }
  }
}

// The trees take the composed packing keys where the plan has no weight
// privacy (S = 0) and the per-prime ones otherwise (the flood grows with 4^S
// times the trees' noise); the input side's keys are composed at every S on
// n2048_q54, per prime elsewhere.
TEST(LinearPlanGadgets, PackingKeysFollowTheWeightPrivacy) {
  const LinearShape s{1, 768, 2304};
  const LinearPlan plain = plan_linear(s, LinearPrecision::standard, false, 0);
  ASSERT_EQ(plain.param_id, ParamId::n2048_q54);
  EXPECT_EQ(plain.packing_base, GadgetBase::composed);
  EXPECT_EQ(plain.decomposition_bits, 18);
  const LinearPlan exact = plan_linear(s, LinearPrecision::exact, false, 0);
  EXPECT_EQ(exact.packing_base, GadgetBase::composed);
  int checked = 0;
  for (const int privacy : {1, 4}) {
    const LinearPlan p = plan_linear(s, LinearPrecision::standard, false, privacy);
    if (p.param_id != ParamId::n2048_q54) continue;
    EXPECT_EQ(p.packing_base, GadgetBase::per_prime) << privacy;
    EXPECT_EQ(p.decomposition_bits, 14) << privacy;
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no S > 0 plan stayed on n2048_q54";
  EXPECT_EQ(linear_input_gadget(ParamId::n2048_q54), (Gadget{6, GadgetBase::composed}));
  EXPECT_EQ(linear_sequential_gadget(ParamId::n2048_q54), (Gadget{5, GadgetBase::composed}));
  EXPECT_EQ(linear_packing_gadget(ParamId::n4096_q108), (Gadget{36, GadgetBase::per_prime}));
  // One key switch's digits: 3 composed (18 bits of 54) against 4 per prime.
  EXPECT_EQ(gadget_digit_count(parameter_set(ParamId::n2048_q54), Gadget{18, GadgetBase::composed}), 3u);
  EXPECT_EQ(gadget_digit_count(parameter_set(ParamId::n2048_q54), Gadget{6, GadgetBase::composed}), 9u);
  EXPECT_EQ(gadget_digit_count(parameter_set(ParamId::n2048_q54), Gadget{6, GadgetBase::per_prime}), 10u);
}

}  // namespace
}  // namespace fhellm::he
