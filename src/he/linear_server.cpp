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
#include "he/prng.h"
#include "he/shared_mask.h"
#include "math/blocked_product.h"
#include "he/linear_detail.h"
#include "common/thread_pool.h"
#include "he/linear_wire.h"
#include "he/linear_steps.h"

namespace fhellm::he {
namespace {
// f(i) for i < count on `threads` threads of the common pool (the caller's
// included; inline when called from inside another loop's task).
template <class F>
void parallel_for(std::size_t count, std::size_t threads, F&& f) {
  default_thread_pool().run(count, threads, std::forward<F>(f));
}
constexpr std::size_t kBlock = math::kSlotBlock;
// Rows up to this many multiply straight from the packed weights (each unit
// unpacked in registers per row, the stream read ahead); more reuse an unpacked slice.
constexpr std::size_t kPackedRows = 2;

using detail::Call;
using detail::RowInputs;
using detail::input_side;
using detail::Packer;
using detail::ReplyWriter;

// Rows per block: a block's rotated inputs (terms x 32 KiB per row) and its
// tree entries (64 KiB each, E_row per row) stay within ~32 MiB, so a call's
// memory does not grow with T (docs/linear.md, "One encoding").
std::size_t rows_per_block(const Call& call) {
  const std::size_t per_row = call.terms * (32 << 10) + call.enc.entries * (64 << 10);
  return std::clamp<std::size_t>((32u << 20) / per_row, 1, 16);
}

// Step 1: the records of call rows [g0, g1) (read in order, rebuilt in
// parallel). A companion plan evaluates each twice: inputs of evaluated rows
// 2g (as sent) and 2g + 1 (times 2^companion_shift).
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
  if (call.plan.companion_shift == 0) return inputs;
  const auto companion_factor = detail::power_of_two_residues(call.ctx, call.plan.companion_shift);
  std::vector<Ciphertext> both(2 * count);
  parallel_for(count, call.threads, [&](std::size_t i) {
    const std::size_t g = i / geo.chunks, c = i % geo.chunks;
    both[(2 * g + 1) * geo.chunks + c] = inputs[i];
    call.ev.multiply_scalar_inplace(both[(2 * g + 1) * geo.chunks + c], companion_factor);
    both[2 * g * geo.chunks + c] = std::move(inputs[i]);
  });
  return both;
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
    if (rcount > kPackedRows) weights.resize(count * terms * kBlock);
    std::vector<const std::uint32_t*> x(rcount);
    std::vector<std::uint64_t*> y(rcount * count * 2);
    for (std::size_t b = b0; b < b1; ++b) {
      for (std::size_t r = 0; r < rcount; ++r) x[r] = rows[r].blocked.data() + (l * blocks + b) * terms * 2 * kBlock;
      for (std::size_t i = 0; i < rcount * count; ++i) {
        y[2 * i] = out[i].c0.residues(l) + b * kBlock;
        y[2 * i + 1] = out[i].c1.residues(l) + b * kBlock;
      }
      const std::uint8_t* packed =
          call.enc.blocked.get() + ((l * blocks + b) * entries + first) * terms * math::kPackedUnitBytes;
      const std::uint64_t q = call.ctx.modulus(l).value();
      if (rcount <= kPackedRows) {  // few uses of each weight: unpacked where it is used, the next block's read ahead
        const std::uint8_t* next = b + 1 < b1 ? packed + entries * terms * math::kPackedUnitBytes : nullptr;
        math::blocked_products_packed(x.data(), rcount, packed, count, terms, q, y.data(), next);
        continue;
      }
      math::unpack_words27(packed, count * terms, weights.data());
      math::blocked_products(x.data(), rcount, weights.data(), count, terms, q, y.data());
    }
  });
  return out;
}

// The whole call; `flood`: false only for detail::linear_evaluate_unflooded.
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
  // Blocks of call rows (T_w = 1: a row group is a row); a companion plan
  // evaluates each twice.
  const std::size_t per_call_row = plan.companion_shift > 0 ? 2 : 1;
  const std::size_t block = std::max<std::size_t>(1, rows_per_block(call) / per_call_row);
  const std::uint32_t call_groups = plan.call_row_groups();
  for (std::uint32_t g0 = 0; g0 < call_groups; g0 += static_cast<std::uint32_t>(block)) {
    const auto g1 = static_cast<std::uint32_t>(std::min<std::size_t>(call_groups, g0 + block));
    std::vector<Ciphertext> inputs = read_inputs(r, call, g0, g1);
    const std::vector<RowInputs> rotated = input_side(call, inputs, (g1 - g0) * per_call_row);
    replies.add(packer.add(products(call, rotated, 0, enc.entries)));
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
