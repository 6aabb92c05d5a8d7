// The linear-layer seam. Every linear layer of a forward pass, the LM head
// included, goes through one LinearOps::apply call per group of layers that
// share an input (Q/K/V fused; gate/up fused). Implementations: the float
// product here (FloatLinear), and in fhellm::hybrid the quantized `simulate`
// path and the remote encrypted `execute` path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fhellm::model {

enum class LinearKind : std::uint8_t {
  qkv = 0,       // Q, K, V projections (one fused matrix)
  attn_out = 1,  // attention output projection
  mlp_up = 2,    // GPT-2 c_fc; Llama gate and up (one fused matrix)
  mlp_down = 3,  // MLP down projection
  lm_head = 4,   // logits; layer index is -1
};
inline constexpr int kLinearKinds = 5;

// Identifies one group: layer index (0-based; -1 for the LM head) and kind.
struct LinearId {
  int layer = 0;
  LinearKind kind = LinearKind::qkv;
  friend bool operator==(const LinearId&, const LinearId&) = default;
};

// Every group of a model numbered densely: layer l's four groups at 4 l + kind,
// then the LM head. The one place that arithmetic is written; tables indexed
// by group (which are remote, which weights are absent, quantized weights)
// have linear_slot_count(n_layers) entries.
inline constexpr std::size_t kLinearKindsPerLayer = 4;
constexpr std::size_t linear_slot_count(std::size_t n_layers) { return kLinearKindsPerLayer * n_layers + 1; }
// Unchecked: `id` must be a group of a model of n_layers layers (Model::slot checks).
constexpr std::size_t linear_slot(LinearId id, std::size_t n_layers) {
  return id.kind == LinearKind::lm_head
             ? kLinearKindsPerLayer * n_layers
             : static_cast<std::size_t>(id.layer) * kLinearKindsPerLayer + static_cast<std::size_t>(id.kind);
}

// "layers.3.qkv", "lm_head": stable names used by the CLI and the wire.
std::string linear_name(LinearId id);

// Read-only view of a group's weights inside a Model: y = x W^T + b.
struct LinearView {
  const float* weight = nullptr;  // [n_out, n_in] row-major; nullptr if the model lacks it
  const float* bias = nullptr;    // [n_out] or nullptr
  std::size_t n_out = 0;
  std::size_t n_in = 0;
};

// The seam. `x` holds `rows` rows of n_in floats, `y` receives rows x n_out.
// Called from one thread at a time per Session; an implementation may hold
// per-session state (connection, keys).
class LinearOps {
 public:
  virtual ~LinearOps() = default;
  virtual void apply(LinearId id, const float* x, std::size_t rows, float* y) = 0;
};

// y[rows, n] = x[rows, k] * w[n, k]^T (+ bias), float32: single rows and
// small products on fhellm's AVX2 kernel and worker pool, larger multi-row
// products through OpenBLAS sgemm.
void matmul_transposed(const float* x, std::size_t rows, std::size_t k, const float* w, std::size_t n,
                       const float* bias, float* y);
// The same product, always through OpenBLAS (sgemv for one row): the
// baseline benchmarks and tests compare against.
void matmul_transposed_openblas(const float* x, std::size_t rows, std::size_t k, const float* w, std::size_t n,
                                const float* bias, float* y);

class Model;

// The clear float product of the model's own weights (fhe mode "disable").
class FloatLinear final : public LinearOps {
 public:
  explicit FloatLinear(const Model& model) : model_(model) {}
  // @throws Error(invalid_argument) for a group whose weights the model does
  //         not hold (Model::holds_weight), Error(unknown_layer)
  void apply(LinearId id, const float* x, std::size_t rows, float* y) override;

 private:
  const Model& model_;
};

}  // namespace fhellm::model
