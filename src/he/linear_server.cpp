// linear_evaluate: the server's side of the encrypted matrix product. A call
// of T rows runs over the layer's one encoding (linear_weights.h) in blocks
// of rows; per block:
//   1. inputs: rebuild each row's bodies, to NTT form, scale by 2^-L;
//   2. input side of the split point: sigma_mask(input) for every mask (the
//      sequential levels, then hoisted automorphisms with each key read once
//      for all rows of the block);
//   3. products: every tree entry of every row, blocked over NTT slots so one
//      pass over the weights serves the whole block (math/blocked_product.h);
//   4. packing trees, one per row and packed ct;
//   5. replies: re-randomization with fresh errors, Gaussian flood, modulus
//      switch, bit-packing, in row-group-major order and in shared-mask groups.
// Algorithm, costs and noise: docs/linear.md.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "fhellm/error.h"
#include "he/evaluator.h"
#include "he/hoisted_galois.h"
#include "he/linear.h"
#include "he/linear_reference.h"
#include "he/accumulator.h"
#include "he/circuit_privacy.h"
#include "he/prng.h"
#include "he/shared_mask.h"
#include "math/blocked_product.h"
#include "he/linear_detail.h"
#include "common/thread_pool.h"
#include "he/linear_wire.h"

namespace fhellm::he {
namespace {

// f(i) for i < count on `threads` threads of the common pool (the caller's
// included; inline when called from inside another loop's task).
template <class F>
void parallel_for(std::size_t count, std::size_t threads, F&& f) {
  default_thread_pool().run(count, threads, std::forward<F>(f));
}
constexpr std::size_t kBlock = math::kSlotBlock;

// What every step of one call reads.
struct Call {
  const LinearPlan& plan;
  const LinearGeometry& geo;
  const LinearSessionKeys& sk;
  const Context& ctx;
  const EncodedWeights::Encoding& enc;
  Evaluator ev;
  std::size_t threads;
  std::size_t masks;   // 2^L
  std::size_t terms;   // chunks x 2^L
  bool narrow;         // 32-bit blocked products
};

// One row's input side: sigma_mask(input_c) for every term m = c 2^L + mask,
// blocked ([prime][block][term][part][16], narrow sets) or as ciphertexts.
struct RowInputs {
  std::vector<std::uint32_t, DefaultInitAllocator<std::uint32_t>> blocked;  // every word written by input_side
  std::vector<Ciphertext> cts;
};

// Rows per block: a block's rotated inputs (terms x 32 KiB per row) and its
// tree entries (64 KiB each, E_row per row) stay within ~32 MiB, so a call's
// memory does not grow with T (docs/linear.md, "One encoding").
std::size_t rows_per_block(const Call& call) {
  const std::size_t per_row = call.terms * (32 << 10) + call.enc.entries * (64 << 10);
  return std::clamp<std::size_t>((32u << 20) / per_row, 1, 16);
}

// Step 1: the records of rows [g0, g1) (read in order, rebuilt in parallel).
std::vector<Ciphertext> read_inputs(ByteReader& r, const Call& call, std::uint32_t g0, std::uint32_t g1) {
  const LinearGeometry& geo = call.geo;
  const std::size_t n = call.ctx.poly_degree(), count = std::size_t{g1 - g0} * geo.chunks;
  const std::uint64_t upload_modulus = std::uint64_t{1} << call.plan.upload_bits;
  std::vector<Seed> seeds(count);
  std::vector<std::vector<std::uint64_t>> values(count);
  std::vector<std::vector<std::uint32_t>> sent(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto g = static_cast<std::uint32_t>(g0 + i / geo.chunks), c = static_cast<std::uint32_t>(i % geo.chunks);
    const auto sb = r.take(32);
    std::copy(sb.begin(), sb.end(), seeds[i].begin());
    sent[i] = geo.sent_positions(g, c);
    values[i] = wire::read_values(r, sent[i].size(), call.plan.upload_bits, upload_modulus);
  }
  const auto input_factor = detail::inverse_residues(call.ctx, std::uint64_t{1} << geo.input_levels);
  std::vector<Ciphertext> inputs(count);
  parallel_for(count, call.threads, [&](std::size_t i) {
    Ciphertext ct;
    ct.c1 = expand_seed(call.ctx, seeds[i]);
    ct.c0 = RnsPoly(call.ctx, false);
    // Unsent coefficients stay zero: their phase is garbage that only reaches
    // coefficients the packing trace cancels (LinearGeometry::sent_positions).
    std::vector<std::uint64_t> body(n, 0);
    for (std::size_t j = 0; j < sent[i].size(); ++j) body[sent[i][j]] = values[i][j];
    detail::rebuild_body(call.ctx, body, call.plan.upload_bits, ct.c0);
    to_ntt(ct.c0, call.ctx);
    if (geo.input_levels > 0) call.ev.multiply_scalar_inplace(ct, input_factor);
    inputs[i] = std::move(ct);
  });
  return inputs;
}

// Writes ct (NTT form) as term m of a row's blocked inputs.
void place_blocked(const Call& call, const Ciphertext& ct, std::size_t m, std::uint32_t* blocked) {
  const std::size_t n = call.ctx.poly_degree(), blocks = n / kBlock;
  for (std::size_t l = 0; l < call.ctx.moduli_count(); ++l)
    for (int part = 0; part < 2; ++part) {
      const std::uint64_t* src = (part == 0 ? ct.c0 : ct.c1).residues(l);
      for (std::size_t b = 0; b < blocks; ++b) {
        std::uint32_t* dst = blocked + (((l * blocks + b) * call.terms + m) * 2 + part) * kBlock;
        const std::uint64_t* from = src + b * kBlock;
        // blocked_slot_word: the two halves of the block interleaved.
        for (std::size_t s = 0; s < kBlock / 2; ++s) {
          dst[2 * s] = static_cast<std::uint32_t>(from[s]);
          dst[2 * s + 1] = static_cast<std::uint32_t>(from[s + kBlock / 2]);
        }
      }
    }
}

void store_term(const Call& call, RowInputs& row, std::size_t m, Ciphertext ct) {
  if (call.narrow) place_blocked(call, ct, m, row.blocked.data());
  else row.cts[m] = std::move(ct);
}

// Step 2: the split point's input side for the block's rows. Mask bits: the
// hoisted levels low, the sequential ones high. The 2^X bases sigma_B(in)
// come from one key switch each (single keys), then each base is decomposed
// once and takes the hoisted automorphisms of the low bits, every key read
// once for all rows.
std::vector<RowInputs> input_side(const Call& call, std::vector<Ciphertext>& inputs, std::size_t rows) {
  const LinearGeometry& geo = call.geo;
  const std::size_t chunks = geo.chunks, masks = call.masks;
  std::vector<RowInputs> out(rows);
  for (auto& row : out) {
    if (call.narrow) row.blocked.resize(call.terms * 2 * call.ctx.moduli_count() * call.ctx.poly_degree());
    else row.cts.resize(call.terms);
  }
  if (masks == 1) {
    parallel_for(rows * chunks, call.threads,
                 [&](std::size_t i) { store_term(call, out[i / chunks], i % chunks, std::move(inputs[i])); });
    return out;
  }
  const std::size_t low = std::size_t{1} << geo.hoisted_levels(), bases = masks / low;
  // base[(r * chunks + c) * bases + s]
  std::vector<Ciphertext> base(rows * chunks * bases);
  for (std::size_t i = 0; i < rows * chunks; ++i) base[i * bases] = std::move(inputs[i]);
  for (int x = 0; x < geo.sequential_levels(); ++x) {
    const std::size_t bit = std::size_t{1} << x;
    const std::uint64_t gal = geo.level_galois_element(geo.hoisted_levels() + 1 + x);
    parallel_for(rows * chunks * bit, call.threads, [&](std::size_t idx) {
      const std::size_t rc = idx / bit, b = idx % bit;
      Ciphertext ct = base[rc * bases + b];
      call.ev.apply_galois_inplace(ct, gal, call.sk.galois_sequential);
      base[rc * bases + (b | bit)] = std::move(ct);
    });
  }
  std::vector<std::optional<HoistedCiphertext>> hoisted(base.size());
  parallel_for(base.size(), call.threads, [&](std::size_t i) {
    hoisted[i].emplace(call.sk.context, base[i], call.plan.input_decomposition_bits);
  });
  const bool fast = call.sk.input_hoisted && hoisted[0]->fast();
  // Job (c, s, a): mask a + s low of chunk c, for every row of the block.
  parallel_for(chunks * bases * low, call.threads, [&](std::size_t job) {
    const std::size_t c = job / (bases * low), s = job / low % bases, a = job % low;
    const std::size_t m = c * masks + s * low + a;
    if (a == 0) {
      for (std::size_t r = 0; r < rows; ++r) store_term(call, out[r], m, base[(r * chunks + c) * bases + s]);
      return;
    }
    const std::uint64_t g = clear::input_galois_element(geo, static_cast<std::uint32_t>(a));
    std::vector<Ciphertext> rotated(rows);
    if (fast && call.sk.input_hoisted->has(g)) {
      std::vector<const HoistedCiphertext*> group(rows);
      for (std::size_t r = 0; r < rows; ++r) group[r] = &*hoisted[(r * chunks + c) * bases + s];
      HoistedCiphertext::apply_galois_batch(group, g, *call.sk.input_hoisted, rotated);
    } else {
      for (std::size_t r = 0; r < rows; ++r)
        rotated[r] = hoisted[(r * chunks + c) * bases + s]->apply_galois(g, call.sk.galois_input);
    }
    for (std::size_t r = 0; r < rows; ++r) store_term(call, out[r], m, std::move(rotated[r]));
  });
  return out;
}

// Step 3: entry[r * count + i] = sum_m rotated_m * V_{first + i, m} (NTT
// form) for the `count` entries from `first` (one packed ct's).
std::vector<Ciphertext> products(const Call& call, const std::vector<RowInputs>& rows, std::size_t first,
                                 std::size_t count) {
  const std::size_t n = call.ctx.poly_degree(), k = call.ctx.moduli_count(), blocks = n / kBlock;
  const std::size_t entries = call.enc.entries, terms = call.terms, rcount = rows.size();
  std::vector<Ciphertext> out(rcount * count);
  for (auto& ct : out) ct = Ciphertext(call.ctx, true, kUninitialized);  // every slot is written below
  if (!call.narrow) {
    parallel_for(rcount * count, call.threads, [&](std::size_t i) {
      const std::size_t r = i / count, e = first + i % count;
      CiphertextAccumulator acc(call.sk.context);
      for (std::size_t m = 0; m < terms; ++m) acc.multiply_add_unchecked(rows[r].cts[m], call.enc.wide[e * terms + m]);
      out[i] = acc.result();
    });
    return out;
  }
  // Job (prime l, run of 16 slot blocks): every row and entry of the run, the
  // blocks in order, so each (row, entry) ciphertext is written 2 KiB at a
  // time instead of 128 B in a different page per block. The kernel stores
  // each sum straight into its ciphertext, not into a staging array copied
  // after (the copy's cost moves into the kernel's stores: the entries'
  // first writes are what a 32-row call pays here, not the copy).
  constexpr std::size_t kRun = 16;
  const std::size_t runs = (blocks + kRun - 1) / kRun;
  parallel_for(k * runs, call.threads, [&](std::size_t job) {
    const std::size_t l = job / runs, b0 = job % runs * kRun, b1 = std::min(blocks, b0 + kRun);
    thread_local std::vector<std::uint32_t> weights;  // one (prime, block) slice, unpacked
    weights.resize(count * terms * kBlock);
    std::vector<const std::uint32_t*> x(rcount);
    std::vector<std::uint64_t*> y(rcount * count * 2);
    for (std::size_t b = b0; b < b1; ++b) {
      for (std::size_t r = 0; r < rcount; ++r) x[r] = rows[r].blocked.data() + (l * blocks + b) * terms * 2 * kBlock;
      for (std::size_t i = 0; i < rcount * count; ++i) {
        y[2 * i] = out[i].c0.residues(l) + b * kBlock;
        y[2 * i + 1] = out[i].c1.residues(l) + b * kBlock;
      }
      math::unpack_words28(call.enc.blocked.get() + ((l * blocks + b) * entries + first) * terms * math::kPackedUnitBytes,
                           count * terms, weights.data());
      math::blocked_products(x.data(), rcount, weights.data(), count, terms, call.ctx.modulus(l).value(), y.data());
    }
  });
  return out;
}

// Step 4: the packing tree of packed ct p over its entries (see
// linear_reference.cpp for the same steps in the clear), in NTT form:
// automorphisms permute slots and the key switch takes its input back to
// coefficients. `inner` threads share each level's merges.
Ciphertext pack_tree(const Call& call, std::vector<std::optional<Ciphertext>> level, std::size_t inner) {
  const LinearGeometry& geo = call.geo;
  for (int j = geo.input_levels + 1; j <= geo.log_chunk; ++j) {
    const std::uint32_t half = geo.chunk_width >> j;
    const std::uint64_t gal = geo.level_galois_element(j);
    const detail::MonomialSlots& shift = detail::monomial_slots(call.ctx, geo.level_shift(j));
    parallel_for(half, inner, [&](std::size_t i) {
      auto& even = level[i];
      auto& odd = level[i + half];
      if (!even && !odd) return;
      if (!even) even = Ciphertext(call.ctx, true);
      Ciphertext diff;
      if (odd) {
        diff = detail::monomial_butterfly(call.ctx, *even, *odd, shift);
        odd.reset();
      } else {
        diff = *even;
      }
      call.ev.apply_galois_inplace(diff, gal, call.sk.galois);
      call.ev.add_inplace(*even, diff);
    });
    level.resize(half);
  }
  // NTT form: a shared-mask group keeps its bodies there (shared_mask_switch).
  return level[0] ? std::move(*level[0]) : Ciphertext(call.ctx, true);
}

// The packed cts of a call, filled with the rows' tree entries in order
// (LinearGeometry::packed_cts: rows share packed cts): a block's entries
// complete some packed cts, whose trees run at once (each on one thread when
// there are enough, else sharing the threads), and start the next one, which
// waits for the next block.
class Packer {
 public:
  explicit Packer(const Call& call) : call_(call), slots_(call.geo.entries_per_packed()) {}

  // Takes the entries of the next rows (entries[r * E_row + e]); returns the
  // packed cts they complete, with their flat indices.
  std::vector<std::pair<std::size_t, Ciphertext>> add(std::vector<Ciphertext> entries) {
    const std::size_t per = call_.geo.entries_per_packed(), total = call_.geo.packed_cts();
    std::vector<std::pair<std::size_t, Tree>> done;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      current_[next_ % per] = std::move(entries[i]);
      ++next_;
      const std::size_t f = (next_ - 1) / per;
      if (next_ % per == 0 || (f + 1 == total && next_ == total_entries())) {
        done.emplace_back(f, std::move(current_));
        current_ = Tree(slots_);
      }
    }
    std::vector<std::pair<std::size_t, Ciphertext>> out(done.size());
    auto pack = [&](std::size_t i, std::size_t inner) {
      out[i] = {done[i].first, pack_tree(call_, std::move(done[i].second), inner)};
    };
    if (call_.threads > 1 && done.size() >= 2 * call_.threads) {
      parallel_for(done.size(), call_.threads, [&](std::size_t i) { pack(i, 1); });
    } else {
      for (std::size_t i = 0; i < done.size(); ++i) pack(i, call_.threads);
    }
    return out;
  }

 private:
  using Tree = std::vector<std::optional<Ciphertext>>;
  std::size_t total_entries() const { return std::size_t{call_.geo.row_groups} * call_.enc.entries; }
  const Call& call_;
  std::size_t slots_;
  Tree current_{slots_};
  std::size_t next_ = 0;  // global entries placed so far
};

// Step 5: circuit privacy, modulus switch and bytes, packed ct by packed ct in
// row-group-major order; members of a shared-mask group wait for its last one.
class ReplyWriter {
 public:
  ReplyWriter(const Call& call, ByteWriter& w, bool flood) : call_(call), w_(w), rng_(random_seed()), flood_(flood) {}

  // Packed ct `flat` (LinearGeometry::packed_cts order), in order.
  void add(Ciphertext packed, std::size_t flat) {
    const LinearPlan::MaskGroup group = call_.plan.mask_group(flat);
    if (group.size == 1) return write_alone(std::move(packed), flat);
    pending_.push_back(std::move(packed));
    cells_.push_back(flat);
    if (pending_.size() < group.size) return;
    // Circuit privacy: shared_mask_switch adds u * (shared public zero) and
    // fresh errors, a fresh mask for all; each body gets its own flood.
    std::vector<Ciphertext*> members;
    for (Ciphertext& ct : pending_) members.push_back(&ct);
    shared_mask_switch(call_.ctx, *call_.sk.shared_mask, members, rng_);
    for (std::size_t y = 0; y < pending_.size(); ++y) {
      const auto used = call_.geo.used_positions(cells_[y]);
      flood(pending_[y], used);
      const SwitchedCiphertext sw = switch_down(pending_[y]);
      if (y == 0) wire::write_values(w_, sw.c1, call_.plan.mask_bits);  // the same for all
      write_body(sw, used);
    }
    pending_.clear();
    cells_.clear();
  }

 private:
  // Circuit privacy: u * Enc(0) + (e1, e2) (a fresh RLWE mask under u) and
  // a Gaussian flood on the sent body values before rounding (docs/linear.md
  // section 6).
  void write_alone(Ciphertext packed, std::size_t flat) {
    const std::size_t n = call_.ctx.poly_degree();
    call_.ev.transform_from_ntt_inplace(packed);
    std::vector<std::int64_t> u(n);
    for (auto& v : u) v = rng_.ternary();
    Ciphertext mask = call_.sk.zero;
    call_.ev.multiply_plain_inplace(mask, PlaintextNtt::encode(call_.ctx, u.data(), n));
    call_.ev.transform_from_ntt_inplace(mask);
    call_.ev.add_inplace(packed, mask);
    const auto used = call_.geo.used_positions(flat);
    add_fresh_error(call_.ctx, packed.c1, rng_);        // e2: every mask value is sent
    add_fresh_error(call_.ctx, packed.c0, rng_, used);  // e1: only the sent body values matter
    flood(packed, used);
    const SwitchedCiphertext sw = switch_down(packed);
    wire::write_values(w_, sw.c1, call_.plan.mask_bits);
    write_body(sw, used);
  }
  void flood(Ciphertext& ct, std::span<const std::uint32_t> used) {
    if (!flood_) return;
    add_flood(call_.ctx, ct.c0, used, call_.plan.flood_std, call_.plan.flood_shift, rng_);
  }
  SwitchedCiphertext switch_down(const Ciphertext& ct) const {
    return call_.ev.switch_modulus(ct, std::uint64_t{1} << call_.plan.body_bits,
                                   std::uint64_t{1} << call_.plan.mask_bits);
  }
  void write_body(const SwitchedCiphertext& sw, std::span<const std::uint32_t> used) {
    std::vector<std::uint64_t> body(used.size());
    for (std::size_t i = 0; i < used.size(); ++i) body[i] = sw.c0[used[i]];
    wire::write_values(w_, body, call_.plan.body_bits);
  }

  const Call& call_;
  ByteWriter& w_;
  Prng rng_;  // server-side randomness for re-randomization and flooding
  bool flood_;
  std::vector<Ciphertext> pending_;
  std::vector<std::size_t> cells_;  // flat indices of pending_
};

}  // namespace

namespace {

std::vector<std::uint8_t> evaluate(std::span<const std::uint8_t> upload, const EncodedWeights& weights,
                                   const LinearServerKeys& keys, std::size_t threads, bool flood) {
  ByteReader r(upload, "linear upload");
  wire::Header h;
  const LinearPlan plan = wire::read_header(r, false, h);
  const LinearSessionKeys& sk = keys.get(plan.param_id);
  // Sizes, keys and weights before any work.
  const std::size_t payload = plan.bytes_up() - kLinearHeaderBytes;
  require(r.remaining() == payload, ErrorCode::shape_mismatch,
          "linear upload: " + std::to_string(r.remaining()) + " payload bytes, the shape needs " + std::to_string(payload));
  require(!plan.shared_mask || sk.shared_mask.has_value(), ErrorCode::missing_galois_key,
          "linear: this plan groups replies under one mask but the session keys have no shared-mask key");
  const EncodedWeights::Encoding& enc = weights.encoding(plan);
  const Call call{plan,
                  plan.geo,
                  sk,
                  *sk.context,
                  enc,
                  Evaluator(sk.context),
                  std::clamp<std::size_t>(threads, 1, 64),
                  std::size_t{1} << plan.geo.input_levels,
                  enc.terms,
                  enc.blocked != nullptr};

  Bytes out;
  ByteWriter w(out);
  wire::Header rh;
  rh.reply = true;
  rh.bits_a = static_cast<std::uint8_t>(plan.body_bits);
  rh.bits_b = static_cast<std::uint8_t>(plan.mask_bits);
  wire::write_header(w, rh, plan);
  ReplyWriter replies(call, w, flood);
  Packer packer(call);
  const std::size_t block = rows_per_block(call);
  for (std::uint32_t g0 = 0; g0 < plan.geo.row_groups; g0 += static_cast<std::uint32_t>(block)) {
    const auto g1 = static_cast<std::uint32_t>(std::min<std::size_t>(plan.geo.row_groups, g0 + block));
    std::vector<Ciphertext> inputs = read_inputs(r, call, g0, g1);
    const std::vector<RowInputs> rotated = input_side(call, inputs, g1 - g0);
    for (auto& [flat, ct] : packer.add(products(call, rotated, 0, enc.entries)))
      replies.add(std::move(ct), flat);
  }
  wire::finish(out);
  return out;
}

}  // namespace

std::vector<std::uint8_t> linear_evaluate(std::span<const std::uint8_t> upload, const EncodedWeights& weights,
                                          const LinearServerKeys& keys, std::size_t threads) {
  return evaluate(upload, weights, keys, threads, true);
}

std::vector<std::uint8_t> detail::linear_evaluate_unflooded(std::span<const std::uint8_t> upload,
                                                            const EncodedWeights& weights,
                                                            const LinearServerKeys& keys, std::size_t threads) {
  return evaluate(upload, weights, keys, threads, false);
}

}  // namespace fhellm::he
