// The steps linear_server.cpp and lookup_server.cpp share (linear_steps.h).
#include "he/linear_steps.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "fhellm/error.h"
#include "he/circuit_privacy.h"
#include "he/hoisted_galois.h"
#include "he/linear_detail.h"
#include "he/linear_reference.h"
#include "he/linear_wire.h"
#include "he/shared_mask.h"
#include "math/blocked_product.h"
#include "common/thread_pool.h"

namespace fhellm::he::detail {
namespace {

// f(i) for i < count on `threads` threads of the common pool (the caller's
// included; inline when called from inside another loop's task).
template <class F>
void parallel_for(std::size_t count, std::size_t threads, F&& f) {
  default_thread_pool().run(count, threads, std::forward<F>(f));
}
constexpr std::size_t kBlock = math::kSlotBlock;

// Where term m's prime l starts in a row's blocked inputs (c0's slot block
// 0; c1's kBlock words on), its slot blocks terms x 2 x kBlock words apart.
std::size_t blocked_term_offset(const Call& call, std::size_t l, std::size_t m) {
  return (l * (call.ctx.poly_degree() / kBlock) * call.terms + m) * 2 * kBlock;
}

// Writes ct (NTT form) as term m of a row's blocked inputs: the identity
// automorphism's gather (the hoisted automorphisms write theirs themselves,
// HoistedCiphertext::apply_galois_batch_blocked).
void place_blocked(const Call& call, const Ciphertext& ct, std::size_t m, std::uint32_t* blocked) {
  const std::size_t n = call.ctx.poly_degree();
  const std::uint32_t* identity = call.ctx.automorphism_permutation(1).data();
  for (std::size_t l = 0; l < call.ctx.moduli_count(); ++l) {
    std::uint32_t* at = blocked + blocked_term_offset(call, l, m);
    math::gather_blocked_narrow(ct.c0.residues(l), identity, n, at, call.terms * 2 * kBlock);
    math::gather_blocked_narrow(ct.c1.residues(l), identity, n, at + kBlock, call.terms * 2 * kBlock);
  }
}

void store_term(const Call& call, RowInputs& row, std::size_t m, Ciphertext ct) {
  if (call.narrow) place_blocked(call, ct, m, row.blocked.data());
  else row.cts[m] = std::move(ct);
}

}  // namespace

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
    hoisted[i].emplace(call.sk.context, base[i],
                       Gadget{call.plan.input_decomposition_bits, linear_input_gadget_base(call.plan.param_id)});
  });
  const bool fast = call.sk.input_hoisted && hoisted[0]->fast();
  // A job applies a group of elements to a set of members, (row, chunk,
  // base) triples, reading each element's key once for all of them. With
  // many rows: the block's rows of one (chunk, base), four elements a job
  // (each row's digits are read once for all four: the rows' digits, not the
  // keys, are what leaves the cache then). One row streams the keys from
  // memory (the weight stream evicts them): every chunk and base of the call
  // in one set, so each key is read once a call, one element a job, each key
  // slice in L1.
  struct Member {
    std::size_t r, c, s;
  };
  const bool one_row = rows == 1;
  const std::size_t sets = one_row ? 1 : chunks * bases, members = one_row ? chunks * bases : rows;
  const std::size_t per_job = one_row ? 1 : 4;
  const std::size_t groups = (low + per_job - 1) / per_job;
  parallel_for(sets * groups, call.threads, [&](std::size_t job) {
    const std::size_t set = job / groups, a0 = job % groups * per_job, a1 = std::min(low, a0 + per_job);
    std::vector<Member> member(members);
    std::vector<const HoistedCiphertext*> group(members);
    for (std::size_t k = 0; k < members; ++k) {
      member[k] = one_row ? Member{0, k / bases, k % bases} : Member{k, set / bases, set % bases};
      group[k] = &*hoisted[(member[k].r * chunks + member[k].c) * bases + member[k].s];
    }
    const auto term = [&](const Member& x, std::size_t a) { return x.c * masks + x.s * low + a; };
    std::vector<std::uint64_t> elements;
    std::vector<std::size_t> element_a;
    for (std::size_t a = a0; a < a1; ++a) {
      if (a == 0) {
        for (const Member& x : member)
          store_term(call, out[x.r], term(x, 0), base[(x.r * chunks + x.c) * bases + x.s]);
        continue;
      }
      const std::uint64_t g = clear::input_galois_element(geo, static_cast<std::uint32_t>(a));
      const bool hoisted_key = fast && call.sk.input_hoisted->has(g);
      if (hoisted_key && call.narrow) {  // the sums straight into the blocked layout, below
        elements.push_back(g);
        element_a.push_back(a);
        continue;
      }
      std::vector<Ciphertext> rotated(members);
      if (hoisted_key) {
        HoistedCiphertext::apply_galois_batch(group, g, *call.sk.input_hoisted, rotated);
      } else {
        for (std::size_t k = 0; k < members; ++k) rotated[k] = group[k]->apply_galois(g, call.sk.galois_input);
      }
      for (std::size_t k = 0; k < members; ++k) store_term(call, out[member[k].r], term(member[k], a), std::move(rotated[k]));
    }
    if (elements.empty()) return;
    HoistedCiphertext::apply_galois_batch_blocked(
        group, elements, *call.sk.input_hoisted,
        [&](std::size_t i, std::size_t k, std::size_t l) {
          return out[member[k].r].blocked.data() + blocked_term_offset(call, l, term(member[k], element_a[i]));
        },
        kBlock, call.terms * 2 * kBlock);
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
        call.ev.apply_galois_inplace(diff, gal, call.sk.packing(call.plan));
      } else {
        call.ev.apply_galois(*even, gal, call.sk.packing(call.plan), diff);  // E + sigma(E), without copying E
      }
      call.ev.add_inplace(*even, diff);
    });
    level.resize(half);
  }
  // NTT form: a shared-mask group keeps its bodies there (shared_mask_switch).
  return level[0] ? std::move(*level[0]) : Ciphertext(call.ctx, true);
}

std::vector<std::pair<std::size_t, Ciphertext>> Packer::add(std::vector<Ciphertext> entries) {
  const std::size_t per = call_.geo.entries_per_packed(), total = call_.geo.packed_cts();
  std::vector<std::pair<std::size_t, Tree>> done;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    current_[call_.geo.slot_of_entry(static_cast<std::uint32_t>(next_ % per))] = std::move(entries[i]);
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

void ReplyWriter::add(std::vector<std::pair<std::size_t, Ciphertext>> packed) {
  std::vector<Group> ready;
  for (auto& [flat, ct] : packed) {
    pending_.cts.push_back(std::move(ct));
    pending_.flats.push_back(flat);
    if (pending_.cts.size() == call_.plan.mask_group(flat).size) ready.push_back(std::exchange(pending_, Group{}));
  }
  // Across groups only: within a group of two or four the members' work
  // (0.1-0.3 ms each) costs less than waking a thread (measured).
  std::vector<Bytes> bytes(ready.size());
  parallel_for(ready.size(), ready.size() >= 2 ? call_.threads : 1,
               [&](std::size_t i) { bytes[i] = group_bytes(ready[i]); });
  for (const Bytes& b : bytes) w_.bytes(b);
}

Bytes ReplyWriter::group_bytes(Group& group) const {
  Bytes out;
  ByteWriter w(out);
  Prng rng(random_seed());  // server-side randomness for re-randomization and flooding
  if (group.cts.size() == 1) {
    write_alone(group.cts[0], group.flats[0], rng, w);
    return out;
  }
  // Circuit privacy: shared_mask_switch adds u * (shared public zero) and
  // fresh errors, a fresh mask for all; each body gets its own flood.
  std::vector<Ciphertext*> members;
  for (Ciphertext& ct : group.cts) members.push_back(&ct);
  shared_mask_switch(call_.ctx, *call_.sk.shared_mask, members, rng);
  for (std::size_t y = 0; y < group.cts.size(); ++y) {
    const Used used = used_positions(group.flats[y]);
    flood(group.cts[y], used, rng);
    const SwitchedCiphertext sw = switch_down(group.cts[y]);
    if (y == 0) wire::write_values(w, sw.c1, call_.plan.mask_bits);  // the same for all
    write_bodies(group.cts[y], sw, used, w);
  }
  return out;
}

// Circuit privacy: u * Enc(0) + (e1, e2) (a fresh RLWE mask under u) and a
// Gaussian flood on the sent body values before rounding (docs/linear.md
// section 6).
void ReplyWriter::write_alone(Ciphertext& packed, std::size_t flat, Prng& rng, ByteWriter& w) const {
  const std::size_t n = call_.ctx.poly_degree();
  call_.ev.transform_from_ntt_inplace(packed);
  std::vector<std::int64_t> u(n);
  for (auto& v : u) v = rng.ternary();
  Ciphertext mask = call_.sk.zero;
  call_.ev.multiply_plain_inplace(mask, PlaintextNtt::encode(call_.ctx, u.data(), n));
  call_.ev.transform_from_ntt_inplace(mask);
  call_.ev.add_inplace(packed, mask);
  const Used used = used_positions(flat);
  add_fresh_error(call_.ctx, packed.c1, rng);            // e2: every mask value is sent
  add_fresh_error(call_.ctx, packed.c0, rng, used.all);  // e1: only the sent body values matter
  flood(packed, used, rng);
  const SwitchedCiphertext sw = switch_down(packed);
  wire::write_values(w, sw.c1, call_.plan.mask_bits);
  write_bodies(packed, sw, used, w);
}

ReplyWriter::Used ReplyWriter::used_positions(std::size_t flat) const {
  Used used;
  const LinearPlan& plan = call_.plan;
  if (plan.companion_shift == 0) {
    used.all = call_.geo.used_positions(flat);
    return used;
  }
  for (const LinearGeometry::UsedCell& u : call_.geo.used_cells(flat)) {
    used.all.push_back(u.pos);
    (plan.is_companion_row(u.cell.row) ? used.companion : used.standard).push_back(u.pos);
  }
  return used;
}

void ReplyWriter::flood(Ciphertext& ct, const Used& used, Prng& rng) const {
  if (!flood_) return;
  const LinearPlan& plan = call_.plan;
  if (plan.companion_shift == 0) {
    add_flood(call_.ctx, ct.c0, used.all, plan.flood_std, plan.flood_shift, rng);
    return;
  }
  add_flood(call_.ctx, ct.c0, used.standard, plan.flood_std, plan.flood_shift, rng);
  add_flood(call_.ctx, ct.c0, used.companion, plan.companion_flood_std, plan.companion_flood_shift, rng);
}

SwitchedCiphertext ReplyWriter::switch_down(const Ciphertext& ct) const {
  return call_.ev.switch_modulus(ct, std::uint64_t{1} << call_.plan.body_bits,
                                 std::uint64_t{1} << call_.plan.mask_bits);
}

void ReplyWriter::write_bodies(const Ciphertext& ct, const SwitchedCiphertext& sw, const Used& used,
                               ByteWriter& w) const {
  const LinearPlan& plan = call_.plan;
  if (plan.companion_shift == 0) {
    write_body(sw, used.all, plan.body_bits, w);
    return;
  }
  // The standard rows' values at body_bits, then the companion rows' at
  // companion_body_bits (each in ascending position): the body switched
  // again to the second width (the mask's rounding is the same).
  write_body(sw, used.standard, plan.body_bits, w);
  if (used.companion.empty()) return;
  const SwitchedCiphertext narrow = call_.ev.switch_modulus(ct, std::uint64_t{1} << plan.companion_body_bits,
                                                             std::uint64_t{1} << plan.mask_bits);
  write_body(narrow, used.companion, plan.companion_body_bits, w);
}

void ReplyWriter::write_body(const SwitchedCiphertext& sw, std::span<const std::uint32_t> used, int bits,
                             ByteWriter& w) const {
  std::vector<std::uint64_t> body(used.size());
  for (std::size_t i = 0; i < used.size(); ++i) body[i] = sw.c0[used[i]];
  wire::write_values(w, body, bits);
}

}  // namespace fhellm::he::detail
