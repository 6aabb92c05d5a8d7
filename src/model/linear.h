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

// The embedding tables are modules of the same kind of id (layer -1): they
// are looked up rather than multiplied (EmbeddingOps, model/embedding.h), but
// they share the remote set, the quantization and the wire with the linear
// groups (docs/embedding.md).
enum class LinearKind : std::uint8_t {
  qkv = 0,                 // Q, K, V projections (one fused matrix)
  attn_out = 1,            // attention output projection
  mlp_up = 2,              // GPT-2 c_fc; Llama gate and up (one fused matrix)
  mlp_down = 3,            // MLP down projection
  lm_head = 4,             // logits; layer index is -1
  token_embedding = 5,     // the token table [vocab, dim]; layer -1
  position_embedding = 6,  // GPT-2's learned positions [context, dim]; layer -1
};
inline constexpr int kLinearKinds = 7;

// Whether `kind` is a table that is looked up (not a product).
constexpr bool is_embedding(LinearKind kind) noexcept {
  return kind == LinearKind::token_embedding || kind == LinearKind::position_embedding;
}

// Identifies one group: layer index (0-based; -1 for the LM head) and kind.
struct LinearId {
  int layer = 0;
  LinearKind kind = LinearKind::qkv;
  friend bool operator==(const LinearId&, const LinearId&) = default;
};

// Every group of a model numbered densely: layer l's four groups at 4 l + kind,
// then the LM head, the token table and the position table. The one place
// that arithmetic is written; tables indexed by group (which are remote, which
// weights are absent, quantized weights) have linear_slot_count(n_layers)
// entries.
inline constexpr std::size_t kLinearKindsPerLayer = 4;
constexpr std::size_t linear_slot_count(std::size_t n_layers) { return kLinearKindsPerLayer * n_layers + 3; }
// Unchecked: `id` must be a group of a model of n_layers layers (Model::slot checks).
constexpr std::size_t linear_slot(LinearId id, std::size_t n_layers) {
  return id.layer < 0 ? kLinearKindsPerLayer * n_layers + static_cast<std::size_t>(id.kind) -
                            static_cast<std::size_t>(LinearKind::lm_head)
                      : static_cast<std::size_t>(id.layer) * kLinearKindsPerLayer + static_cast<std::size_t>(id.kind);
}

// "layers.3.qkv", "lm_head", "token_embedding": stable names used by the CLI and the wire.
std::string linear_name(LinearId id);

// Read-only view of a group's weights inside a Model: y = x W^T + b (for a
// table: weight is the table [n_out rows, n_in = dim], no bias).
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
