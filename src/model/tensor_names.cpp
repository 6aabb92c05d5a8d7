#include "model/tensor_names.h"

#include <span>

#include "fhellm/error.h"

namespace fhellm::model {
namespace {

// '#' stands for the layer index; nullptr: the format has no such tensor.
struct TensorNames {
  TensorRole role;
  const char* hugging_face;
  const char* gguf;
  const char* llama2c;
};

constexpr TensorNames kLlama[] = {
    {TensorRole::token_embedding, "model.embed_tokens.weight", "token_embd.weight", "token_embedding_table"},
    {TensorRole::attn_norm, "model.layers.#.input_layernorm.weight", "blk.#.attn_norm.weight", "rms_att_weight"},
    {TensorRole::q, "model.layers.#.self_attn.q_proj.weight", "blk.#.attn_q.weight", "wq"},
    {TensorRole::k, "model.layers.#.self_attn.k_proj.weight", "blk.#.attn_k.weight", "wk"},
    {TensorRole::v, "model.layers.#.self_attn.v_proj.weight", "blk.#.attn_v.weight", "wv"},
    {TensorRole::attn_out, "model.layers.#.self_attn.o_proj.weight", "blk.#.attn_output.weight", "wo"},
    {TensorRole::ffn_norm, "model.layers.#.post_attention_layernorm.weight", "blk.#.ffn_norm.weight",
     "rms_ffn_weight"},
    {TensorRole::gate, "model.layers.#.mlp.gate_proj.weight", "blk.#.ffn_gate.weight", "w1"},
    {TensorRole::up, "model.layers.#.mlp.up_proj.weight", "blk.#.ffn_up.weight", "w3"},
    {TensorRole::down, "model.layers.#.mlp.down_proj.weight", "blk.#.ffn_down.weight", "w2"},
    {TensorRole::final_norm, "model.norm.weight", "output_norm.weight", "rms_final_weight"},
    {TensorRole::lm_head, "lm_head.weight", "output.weight", "wcls"},
    {TensorRole::rope_freqs, nullptr, "rope_freqs.weight", nullptr},
};

// Hugging Face GPT-2 stores Conv1D weights [in, out]; GGUF [out, in] in ggml order.
constexpr TensorNames kGpt2[] = {
    {TensorRole::token_embedding, "wte.weight", "token_embd.weight", nullptr},
    {TensorRole::position_embedding, "wpe.weight", "position_embd.weight", nullptr},
    {TensorRole::attn_norm, "h.#.ln_1.weight", "blk.#.attn_norm.weight", nullptr},
    {TensorRole::attn_norm_bias, "h.#.ln_1.bias", "blk.#.attn_norm.bias", nullptr},
    {TensorRole::qkv, "h.#.attn.c_attn.weight", "blk.#.attn_qkv.weight", nullptr},
    {TensorRole::qkv_bias, "h.#.attn.c_attn.bias", "blk.#.attn_qkv.bias", nullptr},
    {TensorRole::attn_out, "h.#.attn.c_proj.weight", "blk.#.attn_output.weight", nullptr},
    {TensorRole::attn_out_bias, "h.#.attn.c_proj.bias", "blk.#.attn_output.bias", nullptr},
    {TensorRole::ffn_norm, "h.#.ln_2.weight", "blk.#.ffn_norm.weight", nullptr},
    {TensorRole::ffn_norm_bias, "h.#.ln_2.bias", "blk.#.ffn_norm.bias", nullptr},
    {TensorRole::up, "h.#.mlp.c_fc.weight", "blk.#.ffn_up.weight", nullptr},
    {TensorRole::up_bias, "h.#.mlp.c_fc.bias", "blk.#.ffn_up.bias", nullptr},
    {TensorRole::down, "h.#.mlp.c_proj.weight", "blk.#.ffn_down.weight", nullptr},
    {TensorRole::down_bias, "h.#.mlp.c_proj.bias", "blk.#.ffn_down.bias", nullptr},
    {TensorRole::final_norm, "ln_f.weight", "output_norm.weight", nullptr},
    {TensorRole::final_norm_bias, "ln_f.bias", "output_norm.bias", nullptr},
    {TensorRole::lm_head, "lm_head.weight", "output.weight", nullptr},
};

std::span<const TensorNames> table(Architecture arch) {
  if (arch == Architecture::gpt2) return kGpt2;
  return kLlama;
}

const char* column(const TensorNames& n, TensorFormat format) {
  switch (format) {
    case TensorFormat::hugging_face: return n.hugging_face;
    case TensorFormat::gguf: return n.gguf;
    case TensorFormat::llama2c: return n.llama2c;
  }
  return nullptr;
}

}  // namespace

std::string tensor_name(Architecture arch, TensorFormat format, TensorRole role, std::size_t layer) {
  for (const TensorNames& n : table(arch)) {
    if (n.role != role) continue;
    const char* pattern = column(n, format);
    if (pattern == nullptr) break;
    std::string name(pattern);
    if (const auto hash = name.find('#'); hash != std::string::npos) name.replace(hash, 1, std::to_string(layer));
    return name;
  }
  throw Error(ErrorCode::missing_tensor, std::string(architecture_name(arch)) + " has no tensor of role " +
                                             std::to_string(static_cast<int>(role)) + " in this format");
}

}  // namespace fhellm::model
