#include "model/config.h"

#include <string>

#include "fhellm/error.h"

namespace fhellm::model {
namespace {

// Hard maxima: far above any real model, low enough that products of them
// cannot overflow 64 bits and a hostile header cannot ask for absurd memory.
constexpr std::size_t kMaxDim = 1 << 16;
constexpr std::size_t kMaxHidden = 1 << 18;
constexpr std::size_t kMaxLayers = 1024;
constexpr std::size_t kMaxHeads = 1024;
constexpr std::size_t kMaxVocab = 1 << 22;
constexpr std::size_t kMaxContext = 1 << 21;

void check_range(const char* field, std::size_t value, std::size_t max) {
  require(value > 0 && value <= max, ErrorCode::bad_config,
          std::string("model config: ") + field + " = " + std::to_string(value) + " is outside [1, " +
              std::to_string(max) + "]");
}

}  // namespace

void ModelConfig::validate() const {
  require(arch == Architecture::gpt2 || arch == Architecture::llama, ErrorCode::unsupported_architecture,
          "model config: unknown architecture " + std::to_string(static_cast<int>(arch)));
  check_range("dim", dim, kMaxDim);
  check_range("hidden_dim", hidden_dim, kMaxHidden);
  check_range("n_layers", n_layers, kMaxLayers);
  check_range("n_heads", n_heads, kMaxHeads);
  check_range("n_kv_heads", n_kv_heads, kMaxHeads);
  check_range("head_dim", head_dim, kMaxDim);
  check_range("vocab_size", vocab_size, kMaxVocab);
  check_range("context", context, kMaxContext);
  require(n_heads % n_kv_heads == 0, ErrorCode::bad_config,
          "model config: n_heads = " + std::to_string(n_heads) + " is not a multiple of n_kv_heads = " +
              std::to_string(n_kv_heads));
  require(head_dim % 2 == 0, ErrorCode::bad_config,
          "model config: head_dim = " + std::to_string(head_dim) + " must be even");
  require(q_dim() <= kMaxDim, ErrorCode::bad_config,
          "model config: n_heads * head_dim = " + std::to_string(q_dim()) + " is too large");
  require(norm_eps > 0.0f && norm_eps < 1.0f, ErrorCode::bad_config,
          "model config: norm_eps = " + std::to_string(norm_eps) + " is outside (0, 1)");
  if (arch == Architecture::gpt2) {
    require(n_kv_heads == n_heads && q_dim() == dim, ErrorCode::bad_config,
            "model config: GPT-2 needs n_kv_heads == n_heads and n_heads * head_dim == dim");
  } else {
    require(rope_theta > 0.0f, ErrorCode::bad_config,
            "model config: rope_theta = " + std::to_string(rope_theta) + " must be positive");
    if (rope_scaling.enabled) {
      require(rope_scaling.factor > 0.0f && rope_scaling.high_freq_factor > rope_scaling.low_freq_factor &&
                  rope_scaling.low_freq_factor > 0.0f && rope_scaling.original_context > 0,
              ErrorCode::bad_config, "model config: invalid llama3 rope_scaling values");
    }
  }
}

std::string_view architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::gpt2: return "gpt2";
    case Architecture::llama: return "llama";
  }
  return "unknown";
}

Architecture parse_architecture(std::string_view name) {
  if (name == "gpt2") return Architecture::gpt2;
  if (name == "llama") return Architecture::llama;
  throw Error(ErrorCode::unsupported_architecture,
              "unsupported architecture '" + std::string(name) + "' (supported: gpt2, llama)");
}

}  // namespace fhellm::model
