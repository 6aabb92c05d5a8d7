#include "he/linear_weights.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "fhellm/error.h"
#include "he/context.h"
#include "he/linear_reference.h"
#include "math/blocked_product.h"
#include "math/ntt.h"
#include "he/linear_detail.h"
#include "he/weight_encoding.h"
#include "common/thread_pool.h"

namespace fhellm::he {
namespace {

EncodedWeights::Encoding encode(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in,
                                LinearPrecision precision, int privacy_bits, std::size_t threads) {
  const LinearLayout layout = linear_resident_layout(in, out, precision, privacy_bits);
  const auto ctx = Context::get(layout.param_id);
  const LinearGeometry geo = LinearGeometry::make({1, in, out}, static_cast<std::uint32_t>(ctx->poly_degree()),
                                                  layout.chunk_width, 1, layout.input_levels);
  // (k_w / 2^L)^-1: the rest of the trace's factor k_w (the inputs carry 2^-L).
  const auto scale = detail::inverse_residues(*ctx, geo.chunk_width >> geo.input_levels);
  EncodedWeights::Encoding enc;
  if (detail::linear_words32(*ctx)) {
    enc = detail::encode_blocked({w.data(), out, in, false}, geo, geo.chunks, layout.param_id, scale, threads);
  } else {
    enc.geometry = geo;
    enc.first_entry.assign(geo.packed_per_group + 1, 0);
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p)
      enc.first_entry[p + 1] = enc.first_entry[p] + geo.live_entries(p);
    enc.entries = enc.first_entry.back();
    enc.terms = std::size_t{geo.chunks} << geo.input_levels;
    enc.wide.resize(enc.entries * enc.terms);
    default_thread_pool().run(enc.entries, threads, [&](std::size_t e) {
      const auto p = static_cast<std::uint32_t>(std::upper_bound(enc.first_entry.begin(), enc.first_entry.end(), e) -
                                                enc.first_entry.begin() - 1);
      const auto i = static_cast<std::uint32_t>(e - enc.first_entry[p]);
      for (std::uint32_t c = 0; c < geo.chunks; ++c) {
        const auto folded = clear::folded_weight_polys(geo, w.data(), p, i, c);
        for (std::size_t mask = 0; mask < folded.size(); ++mask)
          enc.wide[e * enc.terms + (std::size_t{c} << geo.input_levels) + mask] =
              PlaintextNtt::encode_scaled(*ctx, folded[mask].data(), folded[mask].size(), scale);
      }
    });
  }
  enc.precision = precision;
  enc.layout = layout;
  return enc;
}

}  // namespace

void EncodedWeights::WordsDeleter::operator()(std::uint8_t* p) const noexcept { std::free(p); }

std::size_t EncodedWeights::Encoding::bytes() const noexcept {
  std::size_t total = blocked_units * math::kPackedUnitBytes;
  for (const auto& p : wide) total += p.poly().poly_degree() * p.poly().moduli_count() * sizeof(std::uint64_t);
  return total;
}

EncodedWeights::EncodedWeights(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in,
                               std::span<const LinearPrecision> precisions, std::size_t threads, int privacy_bits)
    : out_(out), in_(in), privacy_bits_(privacy_bits) {
  // k past kLinearMaxIn: a table's mask encoding only (linear_max_in).
  const bool table_only = std::all_of(precisions.begin(), precisions.end(),
                                      [](LinearPrecision p) { return p == LinearPrecision::mask_table; });
  const std::uint32_t max_in = table_only ? kLinearMaxTableIn : kLinearMaxIn;
  require(out >= 1 && out <= kLinearMaxOut && in >= 1 && in <= max_in, ErrorCode::invalid_argument,
          "weights " + std::to_string(out) + " x " + std::to_string(in) + " outside 1..131072 x 1.." +
              std::to_string(max_in));
  require(w.size() == std::size_t{out} * in, ErrorCode::invalid_argument,
          "weights: " + std::to_string(w.size()) + " values for " + std::to_string(out) + " x " + std::to_string(in));
  require(!precisions.empty(), ErrorCode::invalid_argument, "weights: no precision to encode for");
  // Exact and the mask products ride on the standard encoding (linear_encoding_precision).
  for (LinearPrecision p : precisions) {
    const LinearPrecision e = linear_encoding_precision(p);
    if (!holds(e)) encodings_.push_back(encode(w, out, in, e, privacy_bits, std::max<std::size_t>(threads, 1)));
  }
}

EncodedWeights::EncodedWeights(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in)
    : EncodedWeights(w, out, in, std::span<const LinearPrecision>(&kLinearDefaultPrecision, 1)) {}

bool EncodedWeights::holds(LinearPrecision precision) const noexcept {
  return std::any_of(encodings_.begin(), encodings_.end(),
                     [&](const Encoding& e) { return e.precision == linear_encoding_precision(precision); });
}

std::size_t EncodedWeights::encoded_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& e : encodings_) total += e.bytes();
  return total;
}

const EncodedWeights::Encoding& EncodedWeights::encoding(const LinearPlan& plan) const {
  require(plan.geo.shape.in == in_ && plan.geo.shape.out == out_, ErrorCode::shape_mismatch,
          "weights are " + std::to_string(out_) + " x " + std::to_string(in_) + ", the call is " +
              std::to_string(plan.geo.shape.out) + " x " + std::to_string(plan.geo.shape.in));
  require(plan.privacy_bits == privacy_bits_, ErrorCode::precision_not_served,
          "this server serves weight privacy " + std::to_string(privacy_bits_) + " bits, the call asks for " +
              std::to_string(plan.privacy_bits));
  for (const auto& e : encodings_) {
    if (e.precision != linear_encoding_precision(plan.precision)) continue;
    require(e.layout.param_id == plan.param_id && e.layout.chunk_width == plan.geo.chunk_width &&
                e.layout.input_levels == plan.geo.input_levels && plan.geo.rows_per_ct == 1,
            ErrorCode::shape_mismatch, "weights: the call's layout differs from the encoded one");
    return e;
  }
  throw Error(ErrorCode::precision_not_served,
              "this server holds no weights encoded for precision '" +
                  std::string(linear_precision_name(linear_encoding_precision(plan.precision))) + "'");
}

}  // namespace fhellm::he
