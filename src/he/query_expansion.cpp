#include "he/query_expansion.h"

#include <bit>
#include <optional>
#include <string>

#include "fhellm/error.h"
#include "he/linear_detail.h"
#include "common/thread_pool.h"

namespace fhellm::he {

std::uint64_t expansion_galois_element(std::size_t poly_degree, int level) noexcept {
  return (poly_degree >> level) + 1;
}

std::vector<Ciphertext> expand_query(const Evaluator& ev, Ciphertext ct, int levels, std::size_t outputs,
                                     const GaloisKeys& keys, std::size_t threads) {
  return expand_query(ev, std::move(ct), levels, outputs, keys, nullptr, 0, threads);
}

std::vector<Ciphertext> expand_query(const Evaluator& ev, Ciphertext ct, int levels, std::size_t outputs,
                                     const GaloisKeys& keys, const HoistedGaloisKeys* more, int trace_levels,
                                     std::size_t threads) {
  const Context& ctx = *ev.context();
  const std::size_t n = ctx.poly_degree();
  require(levels >= 0 && levels <= std::countr_zero(n), ErrorCode::invalid_argument,
          "query expansion: " + std::to_string(levels) + " levels for N = " + std::to_string(n));
  require(trace_levels >= 0 && trace_levels <= levels, ErrorCode::invalid_argument,
          "query expansion: " + std::to_string(trace_levels) + " trace levels of " + std::to_string(levels));
  const int split_levels = levels - trace_levels;
  require(outputs >= 1 && outputs <= (std::size_t{1} << split_levels), ErrorCode::invalid_argument,
          "query expansion: " + std::to_string(outputs) + " outputs from " + std::to_string(split_levels) + " levels");
  // Level l on `keys`, else on `more` (keys.get() throws missing_galois_key
  // when neither holds its element).
  std::vector<bool> on_more(static_cast<std::size_t>(levels), false);
  for (int l = 0; l < levels; ++l) {
    const std::uint64_t g = expansion_galois_element(n, l);
    if (!keys.has(g) && more != nullptr && more->has(g)) on_more[static_cast<std::size_t>(l)] = true;
    else (void)keys.get(g);
  }
  if (!ct.is_ntt_form()) ev.transform_to_ntt_inplace(ct);
  if (levels > 0) ev.multiply_scalar_inplace(ct, detail::inverse_residues(ctx, std::uint64_t{1} << levels));
  // The trace levels keep the even child only (one ciphertext each). Then
  // node[a] at level l holds the outputs o = a mod 2^(l - trace_levels);
  // live while some o < outputs.
  std::vector<std::optional<Ciphertext>> node(std::size_t{1} << split_levels);
  node[0] = std::move(ct);
  for (int l = 0; l < levels; ++l) {
    const std::size_t count = l < trace_levels ? 1 : std::size_t{1} << (l - trace_levels);
    const std::size_t shift = std::size_t{1} << l;
    const std::uint64_t g = expansion_galois_element(n, l);
    default_thread_pool().run(std::min(count, outputs), threads, [&](std::size_t a) {
      Ciphertext& c = *node[a];
      Ciphertext rotated;
      if (on_more[static_cast<std::size_t>(l)]) {
        rotated = HoistedCiphertext(ev.context(), c, more->gadget()).apply_galois(g, *more);
      } else {
        rotated = c;
        ev.apply_galois_inplace(rotated, g, keys);
      }
      const bool odd_live = l >= trace_levels && a + count < outputs;
      if (odd_live) {
        Ciphertext odd = c;
        ev.sub_inplace(odd, rotated);
        ev.multiply_monomial_inplace(odd, -static_cast<std::int64_t>(shift));
        node[a + count] = std::move(odd);
      }
      ev.add_inplace(c, rotated);
    });
  }
  std::vector<Ciphertext> out(outputs);
  for (std::size_t a = 0; a < outputs; ++a) out[a] = std::move(*node[a]);
  return out;
}

}  // namespace fhellm::he
