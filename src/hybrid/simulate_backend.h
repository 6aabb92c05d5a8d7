// fhe=simulate: the integer arithmetic of the encrypted path, in the clear.
// Remote tables are looked up in their int8 per-row quantization (the
// encrypted lookup is exact: no error is drawn).
// Per call: quantize each input row (quant::quantize_rows, n_bits with a
// scale and zero point per row), compute acc = Xq Wq^T exactly
// (quant::int_matmul: the product the server computes under encryption),
// add the encrypted product's rounding error at the default precision (drawn
// from he::linear_error_std for these weights; none in exact precision),
// then zero-point correction, rescale and bias (quant::dequantize_product:
// what the client does after decryption).
#pragma once

#include <map>
#include <utility>

#include "he/linear_layout.h"

#include <memory>
#include <vector>

#include "hybrid/linear_backend.h"
#include "model/model.h"
#include "common/progress.h"
#include "quant/quantize.h"

namespace fhellm::hybrid {

// The int8 per-channel weights of a model's remote linear groups and tables
// (a table per row: the lookup returns those integers, exactly), quantized
// once and shared (simulate backend, execute server). A tied LM head and the
// token table are the same matrix: quantized once, held once. Immutable.
class QuantizedLinears {
 public:
  // Quantizes the groups `ids` of `model` (in parallel); `progress`
  // (optional) hears (groups done, groups) as they finish.
  // @throws Error(unknown_layer, bad_quantization)
  QuantizedLinears(const model::Model& model, const std::vector<LinearId>& ids, quant::QuantOptions options,
                   const ProgressCallback& progress = {});

  // @throws Error(unknown_layer) if `id` was not quantized
  const quant::QuantizedWeights& get(LinearId id) const;
  bool contains(LinearId id) const;
  const quant::QuantOptions& options() const { return options_; }
  const std::vector<LinearId>& ids() const { return ids_; }

 private:
  std::size_t slot(LinearId id) const;
  std::size_t n_layers_;
  quant::QuantOptions options_;
  std::vector<LinearId> ids_;
  std::vector<std::shared_ptr<const quant::QuantizedWeights>> by_slot_;
};

// The simulated rounding errors are a function of the group, the quantized
// row and the output index (a counter-based draw keyed by this constant and
// the draw number): simulate is a pure function of its inputs and draw,
// whatever ran before. Draw 0 is the default; each other draw gives errors
// independent of it, as another execute run would (fhellm eval --draws).
inline constexpr std::uint64_t kSimulateErrorKey = 0x5eed5eed5eed5eedull;

// The key of draw `draw` (kSimulateErrorKey for draw 0).
std::uint64_t simulate_error_key(std::uint64_t draw) noexcept;

// The arithmetic of one simulate call, without a model: quantize the rows,
// the exact integer product, the modelled rounding error, dequantize, bias.
// SimulateBackend runs it for a model's groups, fhellm::RemoteLayers for the
// layers of any model. Not thread-safe (scratch buffers).
class SimulatedProduct {
 public:
  explicit SimulatedProduct(he::LinearPrecision precision = he::kLinearDefaultPrecision, std::uint64_t draw = 0)
      : precision_(precision), error_key_(simulate_error_key(draw)) {}
  // y [rows, w.n_out] from x [rows, w.n_in]; `id` keys the error draws (the
  // same group, row and output draw the same error). `bias` may be null.
  // @throws Error(bad_quantization) for a non-finite input or bits outside 2..8
  void apply(LinearId id, const quant::QuantizedWeights& w, const float* bias, const float* x, std::size_t rows,
             int activation_bits, float* y);

 private:
  // Adds round(N(0, sigma_j^2)) to output j of every row.
  void add_rounding_error(LinearId id, const quant::QuantizedWeights& w, std::size_t rows);

  he::LinearPrecision precision_;
  std::uint64_t error_key_;
  std::map<std::pair<int, int>, std::vector<double>> error_std_;  // per group: sigma_j (he::linear_error_std)
  quant::QuantizedRows rows_;
  std::vector<std::int64_t> acc_;
};

class SimulateBackend final : public LinearBackend {
 public:
  // `model` must outlive the backend; `weights` holds every group it will be
  // called for; `precision` is the encrypted product's that is modelled;
  // `draw` picks the errors drawn (kSimulateErrorKey).
  SimulateBackend(const model::Model& model, std::shared_ptr<const QuantizedLinears> weights,
                  he::LinearPrecision precision = he::kLinearDefaultPrecision, std::uint64_t draw = 0);
  FheMode mode() const override { return FheMode::simulate; }
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override;
  // Row ids[t] of the table's int8 values times the row's scale: what the
  // encrypted lookup returns (exactly) and the client dequantizes.
  void lookup(LinearId table, std::span<const TokenId> ids, float* out) override;

 private:
  const model::Model& model_;
  std::shared_ptr<const QuantizedLinears> weights_;
  SimulatedProduct product_;
};

}  // namespace fhellm::hybrid
