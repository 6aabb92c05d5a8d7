// GGUF model loader: metadata -> ModelConfig, tensors -> ModelWeights.
#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "model/gguf.h"
#include "model/tensor_names.h"

namespace fhellm::model {
namespace {

std::string shape_text(const std::vector<std::uint64_t>& ne) {
  std::string s = "[";
  for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Reads a tensor after checking its ggml shape (ne order: fastest first).
std::vector<float> take(const GgufFile& f, const std::string& name, const std::vector<std::uint64_t>& ne) {
  const auto it = f.tensors().find(name);
  require(it != f.tensors().end(), ErrorCode::missing_tensor, "GGUF: tensor '" + name + "' is missing");
  require(it->second.ne == ne, ErrorCode::tensor_shape_mismatch,
          "GGUF tensor '" + name + "': expected ne " + shape_text(ne) + ", file has " + shape_text(it->second.ne));
  return f.read_float(name);
}

bool has(const GgufFile& f, const std::string& name) { return f.tensors().count(name) != 0; }

void append(std::vector<float>& dst, const std::vector<float>& src) { dst.insert(dst.end(), src.begin(), src.end()); }

std::size_t required_count(const GgufFile& f, const std::string& key) {
  const auto v = f.get_count(key);
  require(v.has_value(), ErrorCode::bad_config, "GGUF: metadata '" + key + "' is missing");
  require(*v > 0 && *v < (std::uint64_t{1} << 32), ErrorCode::bad_config,
          "GGUF: metadata '" + key + "' = " + std::to_string(*v) + " is out of range");
  return static_cast<std::size_t>(*v);
}

// GGUF tensor names (tensor_names.h) of one architecture.
class GgufNames {
 public:
  explicit GgufNames(Architecture arch) : arch_(arch) {}
  std::string operator()(TensorRole role, std::size_t layer = 0) const {
    return tensor_name(arch_, TensorFormat::gguf, role, layer);
  }

 private:
  Architecture arch_;
};

// Llama: Q, K, V and gate, up are fused into the groups the forward pass
// multiplies at once (linear.h).
void load_llama_layer(const GgufFile& f, const ModelConfig& c, std::size_t l, LayerWeights& lw) {
  using R = TensorRole;
  const GgufNames name(Architecture::llama);
  const std::uint64_t d = c.dim, h = c.hidden_dim, q = c.q_dim(), kv = c.kv_dim();
  lw.attn_norm = take(f, name(R::attn_norm, l), {d});
  lw.ffn_norm = take(f, name(R::ffn_norm, l), {d});
  append(lw.wqkv, take(f, name(R::q, l), {d, q}));
  append(lw.wqkv, take(f, name(R::k, l), {d, kv}));
  append(lw.wqkv, take(f, name(R::v, l), {d, kv}));
  lw.wo = take(f, name(R::attn_out, l), {q, d});
  append(lw.w_up, take(f, name(R::gate, l), {d, h}));
  append(lw.w_up, take(f, name(R::up, l), {d, h}));
  lw.w_down = take(f, name(R::down, l), {h, d});
}

void load_gpt2_layer(const GgufFile& f, const ModelConfig& c, std::size_t l, LayerWeights& lw) {
  using R = TensorRole;
  const GgufNames name(Architecture::gpt2);
  const std::uint64_t d = c.dim, h = c.hidden_dim;
  lw.attn_norm = take(f, name(R::attn_norm, l), {d});
  lw.ffn_norm = take(f, name(R::ffn_norm, l), {d});
  lw.attn_norm_bias = take(f, name(R::attn_norm_bias, l), {d});
  lw.ffn_norm_bias = take(f, name(R::ffn_norm_bias, l), {d});
  lw.wqkv = take(f, name(R::qkv, l), {d, 3 * d});
  lw.bqkv = take(f, name(R::qkv_bias, l), {3 * d});
  lw.wo = take(f, name(R::attn_out, l), {d, d});
  lw.bo = take(f, name(R::attn_out_bias, l), {d});
  lw.w_up = take(f, name(R::up, l), {d, h});
  lw.b_up = take(f, name(R::up_bias, l), {h});
  lw.w_down = take(f, name(R::down, l), {h, d});
  lw.b_down = take(f, name(R::down_bias, l), {d});
}

}  // namespace

ModelConfig gguf_model_config(const GgufFile& f) {
  const auto arch_name = f.get_string("general.architecture");
  require(arch_name.has_value(), ErrorCode::bad_config, "GGUF: metadata 'general.architecture' is missing");
  require(*arch_name == "llama" || *arch_name == "gpt2", ErrorCode::unsupported_architecture,
          "GGUF architecture '" + *arch_name + "' is not supported (llama, gpt2)");
  const std::string a = *arch_name + ".";
  ModelConfig c;
  c.arch = *arch_name == "llama" ? Architecture::llama : Architecture::gpt2;
  c.dim = required_count(f, a + "embedding_length");
  c.n_layers = required_count(f, a + "block_count");
  c.n_heads = required_count(f, a + "attention.head_count");
  c.context = required_count(f, a + "context_length");
  c.hidden_dim = f.get_count(a + "feed_forward_length").value_or(4 * c.dim);
  const GgufNames name(c.arch);
  const std::string embd_name = name(TensorRole::token_embedding);
  const auto embd = f.tensors().find(embd_name);
  require(embd != f.tensors().end(), ErrorCode::missing_tensor, "GGUF: tensor '" + embd_name + "' is missing");
  require(embd->second.ne.size() == 2, ErrorCode::tensor_shape_mismatch,
          "GGUF tensor '" + embd_name + "' has shape " + shape_text(embd->second.ne) + ", expected 2 dimensions");
  c.vocab_size = static_cast<std::size_t>(embd->second.ne[1]);
  if (const auto declared = f.get_count(a + "vocab_size")) {
    require(*declared == c.vocab_size, ErrorCode::bad_config,
            "GGUF: " + a + "vocab_size = " + std::to_string(*declared) + " but " + embd_name + " has " +
                std::to_string(c.vocab_size) + " rows");
  }
  if (c.arch == Architecture::llama) {
    c.n_kv_heads = f.get_count(a + "attention.head_count_kv").value_or(c.n_heads);
    require(c.n_heads > 0 && c.dim % c.n_heads == 0, ErrorCode::bad_config,
            "GGUF: embedding_length " + std::to_string(c.dim) + " is not a multiple of head_count " +
                std::to_string(c.n_heads));
    c.head_dim = f.get_count(a + "attention.key_length").value_or(c.dim / c.n_heads);
    c.norm_eps = static_cast<float>(f.get_number(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
    c.rope_theta = static_cast<float>(f.get_number(a + "rope.freq_base").value_or(10000.0));
    c.rope_style = RopeStyle::interleaved;  // llama.cpp's converter permutes Q/K to this layout
    if (has(f, name(TensorRole::rope_freqs))) {
      // Llama 3.1+ files carry the scaling as per-frequency factors; the
      // usual parameters are assumed and checked against them in load_gguf.
      c.rope_scaling.enabled = true;
      c.rope_scaling.factor = static_cast<float>(f.get_number(a + "rope.scaling.factor").value_or(8.0));
      c.rope_scaling.original_context = static_cast<std::size_t>(
          f.get_count(a + "rope.scaling.original_context_length").value_or(8192));
    }
    c.tied_head = !has(f, name(TensorRole::lm_head));
  } else {
    c.n_kv_heads = c.n_heads;
    require(c.dim % c.n_heads == 0, ErrorCode::bad_config,
            "GGUF: embedding_length " + std::to_string(c.dim) + " is not a multiple of head_count " +
                std::to_string(c.n_heads));
    c.head_dim = c.dim / c.n_heads;
    c.norm_eps = static_cast<float>(f.get_number(a + "attention.layer_norm_epsilon").value_or(1e-5));
    c.tied_head = true;  // decided in load_gguf from output.weight
  }
  const GgufVocab vocab = read_gguf_vocab(f);
  c.bos_id = vocab.bos;
  c.eos_id = vocab.eos;
  c.validate();
  return c;
}

std::shared_ptr<const Model> load_gguf(const std::filesystem::path& path) {
  using R = TensorRole;
  const GgufFile f(path);
  ModelConfig c = gguf_model_config(f);
  const GgufNames name(c.arch);
  const std::uint64_t d = c.dim, v = c.vocab_size;
  ModelWeights w;
  w.token_embedding = take(f, name(R::token_embedding), {d, v});
  w.layers.resize(c.n_layers);
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    if (c.arch == Architecture::llama) {
      load_llama_layer(f, c, l, w.layers[l]);
    } else {
      load_gpt2_layer(f, c, l, w.layers[l]);
    }
  }
  w.final_norm = take(f, name(R::final_norm), {d});
  if (c.arch == Architecture::gpt2) {
    w.position_embedding = take(f, name(R::position_embedding), {d, static_cast<std::uint64_t>(c.context)});
    w.final_norm_bias = take(f, name(R::final_norm_bias), {d});
    // llama.cpp writes GPT-2's tied head out as a copy of the embedding.
    if (has(f, name(R::lm_head))) {
      std::vector<float> head = take(f, name(R::lm_head), {d, v});
      if (head != w.token_embedding) {
        c.tied_head = false;
        w.lm_head = std::move(head);
      }
    }
  } else if (!c.tied_head) {
    w.lm_head = take(f, name(R::lm_head), {d, v});
  }
  auto model = Model::create(c, std::move(w));
  if (c.rope_scaling.enabled) {
    // rope_freqs holds base_inv_freq / scaled_inv_freq per frequency.
    const std::vector<float> factors =
        take(f, name(R::rope_freqs), {static_cast<std::uint64_t>(c.head_dim / 2)});
    const auto& inv = model->rope_inv_freq();
    for (std::size_t i = 0; i < factors.size() && i < inv.size(); ++i) {
      const double base = std::pow(static_cast<double>(c.rope_theta), -2.0 * static_cast<double>(i) / c.head_dim);
      const double expected = base / factors[i];
      require(std::abs(inv[i] - expected) <= 1e-3 * std::abs(expected), ErrorCode::unsupported_architecture,
              "GGUF: rope_freqs[" + std::to_string(i) + "] = " + std::to_string(factors[i]) +
                  " does not match Llama 3 RoPE scaling (factor " + std::to_string(c.rope_scaling.factor) + ")");
    }
  }
  return model;
}

}  // namespace fhellm::model
