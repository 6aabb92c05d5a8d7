// lookup_evaluate: the server's side of the encrypted embedding lookup. Per
// block of ids (docs/embedding.md, "Algorithm"):
//   1. the one-hot input of each id (body rebuilt, NTT form, scaled by 2^-L)
//      and its select record (exact body, NTT form);
//   2. the input side of the split point (linear_steps.h), once per id for
//      every chunk;
//   3. products: every (tree entry, chunk) of every id, from the table's one
//      encoding (math/blocked_product.h), the chunk sums left apart;
//   4. selection keys: the select record expanded into b_t g_d and completed
//      with the square key (query_expansion.h, rgsw.h);
//   5. per id and entry, a tree of CMux gates over the chunks keeps the id's
//      chunk; the kept entries are scaled by (k_w / 2^L)^-1;
//   6. packing trees and replies, as the linear layer's (linear_steps.h).
// Where an id's entries fill whole packed cts and that is cheaper (wide
// tables: Llama-3.2-1B's 4 entries of 63 chunks), steps 5 and 6 swap: each
// chunk's entries are packed, and the CMux trees run on packed cts (one per
// id instead of one per entry; packs_first).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "fhellm/error.h"
#include "he/evaluator.h"
#include "he/linear_detail.h"
#include "he/linear_steps.h"
#include "he/linear_wire.h"
#include "he/lookup.h"
#include "he/lookup_wire.h"
#include "he/query_expansion.h"
#include "he/rgsw.h"
#include "math/blocked_product.h"
#include "common/thread_pool.h"

namespace fhellm::he {
namespace {

using detail::Call;
using detail::RowInputs;
constexpr std::size_t kBlock = math::kSlotBlock;

template <class F>
void parallel_for(std::size_t count, std::size_t threads, F&& f) {
  default_thread_pool().run(count, threads, std::forward<F>(f));
}

// The records of one id.
struct IdInputs {
  Ciphertext one_hot;                 // NTT form, scaled by 2^-L
  std::optional<Ciphertext> select;   // NTT form (when V > N)
};

// Ids per block: a block's rotated inputs (2^L x 32 KiB per id), entries
// (E x C x 64 KiB) and selection keys stay within ~128 MiB.
std::size_t ids_per_block(const LookupPlan& plan) {
  const std::size_t per_id = (std::size_t{32} << 10) * (std::size_t{1} << plan.linear.geo.input_levels) +
                             (std::size_t{64} << 10) * plan.linear.geo.row_entries() * plan.chunks +
                             (std::size_t{128} << 10) * plan.expanded_scalars();
  return std::clamp<std::size_t>((std::size_t{128} << 20) / per_id, 1, 16);
}

// Step 1: the records of ids [g0, g1) (read in order, rebuilt in parallel).
std::vector<IdInputs> read_ids(ByteReader& r, const Call& call, const LookupPlan& plan, std::uint32_t g0,
                               std::uint32_t g1) {
  const Context& ctx = call.ctx;
  const std::size_t n = ctx.poly_degree(), count = g1 - g0;
  const auto sent = call.geo.sent_positions(0, 0);
  const std::vector<std::uint32_t> select_sent = plan.select_positions();
  const int select_bits = wire::lookup_select_value_bits(plan);
  std::uint64_t q = 1;
  for (std::size_t l = 0; l < ctx.moduli_count(); ++l) q *= ctx.modulus(l).value();  // < 2^54
  std::vector<Seed> seeds(count), select_seeds(count);
  std::vector<std::vector<std::uint64_t>> values(count), select_values(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto sb = r.take(32);
    std::copy(sb.begin(), sb.end(), seeds[i].begin());
    values[i] = wire::read_values(r, sent.size(), call.plan.upload_bits, std::uint64_t{1} << call.plan.upload_bits);
    if (plan.select_bits == 0) continue;
    const auto ss = r.take(32);
    std::copy(ss.begin(), ss.end(), select_seeds[i].begin());
    select_values[i] = wire::read_values(r, select_sent.size(), select_bits, q);  // coefficient_out_of_range past Q
  }
  const auto input_factor = detail::inverse_residues(ctx, std::uint64_t{1} << call.geo.input_levels);
  std::vector<IdInputs> out(count);
  parallel_for(count, call.threads, [&](std::size_t i) {
    Ciphertext ct;
    ct.c1 = expand_seed(ctx, seeds[i]);
    ct.c0 = RnsPoly(ctx, false);
    std::vector<std::uint64_t> body(n, 0);
    for (std::size_t j = 0; j < sent.size(); ++j) body[sent[j]] = values[i][j];
    detail::rebuild_body(ctx, body, call.plan.upload_bits, ct.c0);
    to_ntt(ct.c0, ctx);
    if (call.geo.input_levels > 0) call.ev.multiply_scalar_inplace(ct, input_factor);
    out[i].one_hot = std::move(ct);
    if (plan.select_bits == 0) return;
    Ciphertext sel;
    sel.c1 = expand_seed(ctx, select_seeds[i]);
    // Unsent positions stay zero: their phase is garbage that reaches only
    // expansion outputs the server does not compute (docs/embedding.md).
    sel.c0 = RnsPoly(ctx, false);
    for (std::size_t l = 0; l < ctx.moduli_count(); ++l) {
      const math::Modulus& ql = ctx.modulus(l);
      for (std::size_t j = 0; j < select_sent.size(); ++j)
        sel.c0.residues(l)[select_sent[j]] = ql.reduce(select_values[i][j]);
    }
    to_ntt(sel.c0, ctx);
    out[i].select = std::move(sel);
  });
  return out;
}

// Step 3: out[(r * E + e) * C + c] = sum_mask rotated_mask(r) * V_{e, c, mask}
// (NTT form): the tree entries of every chunk, not summed over chunks. In the
// table's blocked array, entry e's terms are (chunk, mask) chunk-major, so
// the "virtual entries" v = e C + c each own 2^L consecutive units.
std::vector<Ciphertext> chunk_products(const Call& call, const LookupPlan& plan, const std::vector<RowInputs>& rows) {
  const std::size_t n = call.ctx.poly_degree(), k = call.ctx.moduli_count(), blocks = n / kBlock;
  const std::size_t masks = call.masks, virtual_entries = call.enc.entries * plan.chunks, rcount = rows.size();
  std::vector<Ciphertext> out(rcount * virtual_entries);
  for (auto& ct : out) ct = Ciphertext(call.ctx, true, kUninitialized);  // every slot is written below
  // Virtual entries in groups whose unpacked weights (group x 2^L x 64 B) stay in L2.
  const std::size_t group = std::clamp<std::size_t>((std::size_t{256} << 10) / (masks * kBlock * 4), 1, virtual_entries);
  const std::size_t groups = (virtual_entries + group - 1) / group;
  constexpr std::size_t kRun = 16;
  const std::size_t runs = (blocks + kRun - 1) / kRun;
  parallel_for(k * runs * groups, call.threads, [&](std::size_t job) {
    const std::size_t l = job / (runs * groups), b0 = job / groups % runs * kRun, b1 = std::min(blocks, b0 + kRun);
    const std::size_t v0 = job % groups * group, count = std::min(group, virtual_entries - v0);
    thread_local std::vector<std::uint32_t> weights;
    weights.resize(count * masks * kBlock);
    std::vector<const std::uint32_t*> x(rcount);
    std::vector<std::uint64_t*> y(rcount * count * 2);
    for (std::size_t b = b0; b < b1; ++b) {
      for (std::size_t r = 0; r < rcount; ++r) {
        x[r] = rows[r].blocked.data() + (l * blocks + b) * masks * 2 * kBlock;
        for (std::size_t v = 0; v < count; ++v) {
          Ciphertext& ct = out[r * virtual_entries + v0 + v];
          y[(r * count + v) * 2] = ct.c0.residues(l) + b * kBlock;
          y[(r * count + v) * 2 + 1] = ct.c1.residues(l) + b * kBlock;
        }
      }
      const std::size_t unit0 = ((l * blocks + b) * call.enc.entries) * call.enc.terms + v0 * masks;
      const std::uint8_t* packed = call.enc.blocked.get() + unit0 * math::kPackedUnitBytes;
      const std::uint64_t q = call.ctx.modulus(l).value();
      if (rcount == 1) {  // one id: the next block's slice is read ahead while this one's products run
        const std::size_t slice_bytes = call.enc.entries * call.enc.terms * math::kPackedUnitBytes;
        math::blocked_products_packed(x.data(), 1, packed, count, masks, q, y.data(),
                                      b + 1 < b1 ? packed + slice_bytes : nullptr);
        continue;
      }
      math::unpack_words27(packed, count * masks, weights.data());
      math::blocked_products(x.data(), rcount, weights.data(), count, masks, q, y.data());
    }
  });
  return out;
}

// Step 4: the selection keys of the block's ids: keys[r * bits + t] for bit t.
std::vector<SelectionKey> selection_keys(const Call& call, const LookupPlan& plan, std::vector<IdInputs>& ids) {
  const std::size_t bits = static_cast<std::size_t>(plan.select_bits), d = plan.select_digits;
  std::vector<SelectionKey> keys(ids.size() * bits);
  if (bits == 0) return keys;
  std::vector<std::vector<Ciphertext>> scalars(ids.size());
  // The trace levels first, then the expansion; levels with j >= 6 on the
  // sequential single keys, j <= 5 on the input-side ones. The levels run
  // one after the other: several ids in parallel, or one id's branches of a
  // level.
  auto expand = [&](std::size_t r, std::size_t threads) {
    scalars[r] = expand_query(call.ev, std::move(*ids[r].select), plan.expansion_total_levels(),
                              plan.expanded_scalars(), call.sk.galois_sequential, call.sk.input_hoisted.get(),
                              plan.select_sparse_levels, threads);
  };
  if (ids.size() == 1) expand(0, call.threads);
  else parallel_for(ids.size(), call.threads, [&](std::size_t r) { expand(r, 1); });
  parallel_for(ids.size() * bits, call.threads, [&](std::size_t i) {
    const std::size_t r = i / bits, t = i % bits;
    std::vector<Ciphertext> part(std::make_move_iterator(scalars[r].begin() + static_cast<std::ptrdiff_t>(t * d)),
                                 std::make_move_iterator(scalars[r].begin() + static_cast<std::ptrdiff_t>((t + 1) * d)));
    keys[i] = make_selection_key(call.ev, std::move(part), plan.select_decomposition_bits, *call.sk.square);
  });
  return keys;
}

// Multiplies each ct by (k_w / 2^L)^-1, the factor the packing tree's trace
// brings back (the linear layer folds it into its weights; here it comes
// after the products so the selection's noise is not amplified by the trace).
void scale_for_packing(const Call& call, std::vector<Ciphertext>& cts) {
  const auto scale = detail::inverse_residues(call.ctx, call.geo.chunk_width >> call.geo.input_levels);
  parallel_for(cts.size(), call.threads, [&](std::size_t i) { call.ev.multiply_scalar_inplace(cts[i], scale); });
}

// Step 5: per cell (an id's entry, or with packs_first an id's packed ct),
// the chunk its bit keys select (CMux tree, level t pairs chunks 2a and 2a + 1
// by bit t; an unpaired last one moves up as is). entries[(r per_id + i) C + c].
std::vector<Ciphertext> select_chunks(const Call& call, const LookupPlan& plan, std::vector<Ciphertext> entries,
                                      const std::vector<SelectionKey>& keys, std::size_t rows, std::size_t per_id) {
  const std::size_t bits = static_cast<std::size_t>(plan.select_bits), cells = rows * per_id;
  std::size_t width = plan.chunks;  // live chunks per cell: entries[cell * width + c]
  for (std::size_t t = 0; t < bits; ++t) {
    const std::size_t next = (width + 1) / 2, pairs = width / 2;
    std::vector<Ciphertext> level(cells * next);
    parallel_for(cells * next, call.threads, [&](std::size_t job) {
      const std::size_t cell = job / next, a = job % next, r = cell / per_id;
      Ciphertext* in = entries.data() + cell * width;
      level[job] = a < pairs ? select(call.ev, keys[r * bits + t], in[2 * a], in[2 * a + 1]) : std::move(in[2 * a]);
    });
    entries = std::move(level);
    width = next;
  }
  return entries;
}

// Steps 5 and 6 swapped (packs_first): every chunk's entries scaled and
// packed, then the CMux trees over each id's packed cts. Returns the kept
// packed cts with their flat indices (ids from `first_id`).
std::vector<std::pair<std::size_t, Ciphertext>> pack_then_select(const Call& call, const LookupPlan& plan,
                                                                 std::vector<Ciphertext> entries,
                                                                 const std::vector<SelectionKey>& keys,
                                                                 std::size_t rows, std::size_t first_id) {
  const std::size_t e_row = call.enc.entries, slots = call.geo.entries_per_packed(), per_id = e_row / slots;
  const std::size_t chunks = plan.chunks;
  scale_for_packing(call, entries);
  std::vector<Ciphertext> packed(rows * per_id * chunks);
  // Job (r, p, c): slots p S .. p S + S - 1 of id r's entries in chunk c.
  parallel_for(packed.size(), call.threads, [&](std::size_t job) {
    const std::size_t cell = job / chunks, c = job % chunks, r = cell / per_id, p = cell % per_id;
    std::vector<std::optional<Ciphertext>> tree(slots);
    for (std::size_t i = 0; i < slots; ++i)
      tree[call.geo.slot_of_entry(static_cast<std::uint32_t>(i))] =
          std::move(entries[(r * e_row + p * slots + i) * chunks + c]);
    packed[job] = detail::pack_tree(call, std::move(tree), 1);
  });
  std::vector<Ciphertext> kept = select_chunks(call, plan, std::move(packed), keys, rows, per_id);
  std::vector<std::pair<std::size_t, Ciphertext>> out;
  for (std::size_t i = 0; i < kept.size(); ++i) out.emplace_back(first_id * per_id + i, std::move(kept[i]));
  return out;
}

}  // namespace

Bytes lookup_evaluate(ByteView upload, const EncodedTable& table, const LinearServerKeys& keys, std::size_t threads) {
  ByteReader r(upload, "lookup upload");
  const LookupPlan plan = wire::read_lookup_header(r, false);
  const LinearSessionKeys& sk = keys.get(plan.linear.param_id);
  const std::size_t payload = plan.bytes_up() - kLinearHeaderBytes;
  require(r.remaining() == payload, ErrorCode::shape_mismatch,
          "lookup upload: " + std::to_string(r.remaining()) + " payload bytes, the shape needs " +
              std::to_string(payload));
  require(!plan.linear.shared_mask || sk.shared_mask.has_value(), ErrorCode::missing_galois_key,
          "lookup: the session keys have no shared-mask key");
  require(plan.select_bits == 0 || sk.square.has_value(), ErrorCode::missing_galois_key,
          "lookup: the session keys have no square key (s^2 -> s)");
  const EncodedWeights::Encoding& enc = table.encoding(plan);
  const Call call{plan.linear,
                  plan.linear.geo,
                  sk,
                  *sk.context,
                  enc,
                  Evaluator(sk.context),
                  std::clamp<std::size_t>(threads, 1, 64),
                  std::size_t{1} << plan.linear.geo.input_levels,
                  std::size_t{1} << plan.linear.geo.input_levels,  // one chunk's input side
                  true};

  Bytes out;
  ByteWriter w(out);
  wire::write_lookup_header(w, plan, true);
  detail::ReplyWriter replies(call, w);
  detail::Packer packer(call);
  const std::size_t block = ids_per_block(plan);
  const bool pack_first = plan.packs_first();
  for (std::uint32_t g0 = 0; g0 < plan.shape.rows; g0 += static_cast<std::uint32_t>(block)) {
    const auto g1 = static_cast<std::uint32_t>(std::min<std::size_t>(plan.shape.rows, g0 + block));
    std::vector<IdInputs> ids = read_ids(r, call, plan, g0, g1);
    std::vector<Ciphertext> one_hot(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) one_hot[i] = std::move(ids[i].one_hot);
    const std::vector<RowInputs> rotated = detail::input_side(call, one_hot, ids.size());
    std::vector<Ciphertext> entries = chunk_products(call, plan, rotated);
    const std::vector<SelectionKey> bit_keys = selection_keys(call, plan, ids);
    if (pack_first) {
      replies.add(pack_then_select(call, plan, std::move(entries), bit_keys, ids.size(), g0));
      continue;
    }
    std::vector<Ciphertext> kept = select_chunks(call, plan, std::move(entries), bit_keys, ids.size(), call.enc.entries);
    scale_for_packing(call, kept);
    replies.add(packer.add(std::move(kept)));
  }
  wire::finish(out);
  return out;
}

LookupMessageInfo peek_lookup_upload(ByteView upload) {
  ByteReader r(upload, "lookup upload");
  const wire::LookupHeader h = wire::read_lookup_header_fields(r, false);  // no planning
  return {h.shape, h.value_bits};
}

}  // namespace fhellm::he
