// write_model_gguf: a whole model (config + ModelWeights) as a GGUF file in
// llama.cpp's tensor naming, for the tests of every layer that read GGUF
// models (the loader's, compile's).
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "model/gguf_writer.h"

namespace fhellm::model::testing {

inline std::vector<float> slice(const std::vector<float>& v, std::size_t begin, std::size_t count) {
  return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(begin),
                            v.begin() + static_cast<std::ptrdiff_t>(begin + count));
}

// 2-D weights in `type` (F16 when the row length is not whole blocks, as
// llama.cpp does), 1-D tensors in F32.
inline std::vector<float> put(GgufWriter& g, const std::string& name, const std::vector<std::uint64_t>& ne, WriterType type,
                       const std::vector<float>& values) {
  if (ne.size() == 1) type = WriterType::f32;
  if ((type == WriterType::q8_0 || type == WriterType::q4_0) && ne[0] % 32 != 0) type = WriterType::f16;
  return g.add_tensor(name, ne, type, values);
}

inline void append(std::vector<float>& dst, const std::vector<float>& src) { dst.insert(dst.end(), src.begin(), src.end()); }

// Writes `w` (of config `c`) as a GGUF in llama.cpp's naming and returns the
// weights as stored (rounded / quantized).
inline ModelWeights write_model_gguf(const std::filesystem::path& path, const ModelConfig& c, const ModelWeights& w, WriterType type,
                              bool with_vocab = false, const std::function<void(GgufWriter&)>& extra = {}) {
  GgufWriter g;
  if (extra) extra(g);
  const bool llama = c.arch == Architecture::llama;
  const std::string a = llama ? "llama." : "gpt2.";
  g.add_string("general.architecture", llama ? "llama" : "gpt2");
  g.add_u32("general.alignment", 32);
  g.add_u32(a + "context_length", static_cast<std::uint32_t>(c.context));
  g.add_u32(a + "embedding_length", static_cast<std::uint32_t>(c.dim));
  g.add_u32(a + "block_count", static_cast<std::uint32_t>(c.n_layers));
  g.add_u32(a + "feed_forward_length", static_cast<std::uint32_t>(c.hidden_dim));
  g.add_u32(a + "attention.head_count", static_cast<std::uint32_t>(c.n_heads));
  if (llama) {
    g.add_u32(a + "attention.head_count_kv", static_cast<std::uint32_t>(c.n_kv_heads));
    g.add_f32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
    g.add_f32(a + "rope.freq_base", c.rope_theta);
    g.add_u32(a + "rope.dimension_count", static_cast<std::uint32_t>(c.head_dim));
  } else {
    g.add_f32(a + "attention.layer_norm_epsilon", c.norm_eps);
  }
  if (with_vocab) {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<std::int32_t> types;
    for (std::size_t i = 0; i < c.vocab_size; ++i) {
      tokens.push_back("tok" + std::to_string(i));
      scores.push_back(-static_cast<float>(i));
      types.push_back(i < 3 ? 3 : 1);
    }
    g.add_string("tokenizer.ggml.model", "llama");
    g.add_strings("tokenizer.ggml.tokens", tokens);
    g.add_f32s("tokenizer.ggml.scores", scores);
    g.add_i32s("tokenizer.ggml.token_type", types);
    g.add_u32("tokenizer.ggml.bos_token_id", 1);
    g.add_u32("tokenizer.ggml.eos_token_id", 2);
  }
  const std::uint64_t d = c.dim, h = c.hidden_dim, v = c.vocab_size, q = c.q_dim(), kv = c.kv_dim();
  ModelWeights s;
  s.token_embedding = put(g, "token_embd.weight", {d, v}, type, w.token_embedding);
  s.layers.resize(c.n_layers);
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const LayerWeights& lw = w.layers[l];
    LayerWeights& ls = s.layers[l];
    ls.attn_norm = put(g, p + "attn_norm.weight", {d}, type, lw.attn_norm);
    ls.ffn_norm = put(g, p + "ffn_norm.weight", {d}, type, lw.ffn_norm);
    if (llama) {
      append(ls.wqkv, put(g, p + "attn_q.weight", {d, q}, type, slice(lw.wqkv, 0, q * d)));
      append(ls.wqkv, put(g, p + "attn_k.weight", {d, kv}, type, slice(lw.wqkv, q * d, kv * d)));
      append(ls.wqkv, put(g, p + "attn_v.weight", {d, kv}, type, slice(lw.wqkv, (q + kv) * d, kv * d)));
      ls.wo = put(g, p + "attn_output.weight", {q, d}, type, lw.wo);
      append(ls.w_up, put(g, p + "ffn_gate.weight", {d, h}, type, slice(lw.w_up, 0, h * d)));
      append(ls.w_up, put(g, p + "ffn_up.weight", {d, h}, type, slice(lw.w_up, h * d, h * d)));
      ls.w_down = put(g, p + "ffn_down.weight", {h, d}, type, lw.w_down);
    } else {
      ls.attn_norm_bias = put(g, p + "attn_norm.bias", {d}, type, lw.attn_norm_bias);
      ls.ffn_norm_bias = put(g, p + "ffn_norm.bias", {d}, type, lw.ffn_norm_bias);
      ls.wqkv = put(g, p + "attn_qkv.weight", {d, 3 * d}, type, lw.wqkv);
      ls.bqkv = put(g, p + "attn_qkv.bias", {3 * d}, type, lw.bqkv);
      ls.wo = put(g, p + "attn_output.weight", {d, d}, type, lw.wo);
      ls.bo = put(g, p + "attn_output.bias", {d}, type, lw.bo);
      ls.w_up = put(g, p + "ffn_up.weight", {d, h}, type, lw.w_up);
      ls.b_up = put(g, p + "ffn_up.bias", {h}, type, lw.b_up);
      ls.w_down = put(g, p + "ffn_down.weight", {h, d}, type, lw.w_down);
      ls.b_down = put(g, p + "ffn_down.bias", {d}, type, lw.b_down);
    }
  }
  s.final_norm = put(g, "output_norm.weight", {d}, type, w.final_norm);
  if (!llama) {
    s.position_embedding = put(g, "position_embd.weight", {d, c.context}, type, w.position_embedding);
    s.final_norm_bias = put(g, "output_norm.bias", {d}, type, w.final_norm_bias);
    // llama.cpp writes GPT-2's tied head out as a copy of the embedding.
    put(g, "output.weight", {d, v}, type, c.tied_head ? w.token_embedding : w.lm_head);
  }
  if (!c.tied_head) s.lm_head = put(g, "output.weight", {d, v}, type, w.lm_head);
  std::ofstream(path, std::ios::binary) << g.bytes();
  return s;
}

}  // namespace fhellm::model::testing
