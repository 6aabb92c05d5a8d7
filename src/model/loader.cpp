#include "model/loader.h"

#include <cmath>
#include <string>

#include "fhellm/error.h"
#include "model/gguf.h"
#include "common/thread_pool.h"

namespace fhellm::model {

std::shared_ptr<const Model> load_model(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return load_hf_folder(path);
  require(std::filesystem::exists(path, ec), ErrorCode::file_not_found, "model '" + path.string() + "' does not exist");
  if (path.extension() == ".gguf") return load_gguf(path);
  return load_llama2c(path);
}

ModelConfig shape_preset(const std::string& name) {
  ModelConfig c;
  if (name == "gpt2-124m") {
    c.arch = Architecture::gpt2;
    c.dim = 768;
    c.hidden_dim = 3072;
    c.n_layers = 12;
    c.n_heads = c.n_kv_heads = 12;
    c.head_dim = 64;
    c.vocab_size = 50257;
    c.context = 1024;
    c.norm_eps = 1e-5f;
    c.tied_head = true;
    c.bos_id = c.eos_id = 50256;
  } else if (name == "llama-3.2-1b") {
    c.arch = Architecture::llama;
    c.dim = 2048;
    c.hidden_dim = 8192;
    c.n_layers = 16;
    c.n_heads = 32;
    c.n_kv_heads = 8;
    c.head_dim = 64;
    c.vocab_size = 128256;
    c.context = 131072;
    c.norm_eps = 1e-5f;
    c.rope_theta = 500000.0f;
    c.rope_style = RopeStyle::half;
    c.rope_scaling = {true, 32.0f, 1.0f, 4.0f, 8192};
    c.tied_head = true;
    c.bos_id = 128000;
    c.eos_id = 128001;
  } else if (name == "stories260k") {
    c.arch = Architecture::llama;
    c.dim = 64;
    c.hidden_dim = 172;
    c.n_layers = 5;
    c.n_heads = 8;
    c.n_kv_heads = 4;
    c.head_dim = 8;
    c.vocab_size = 512;
    c.context = 512;
    c.bos_id = 1;
    c.eos_id = 2;
  } else {
    throw Error(ErrorCode::invalid_argument,
                "unknown shape '" + name + "' (known: gpt2-124m, llama-3.2-1b, stories260k)");
  }
  c.validate();
  return c;
}

namespace {

// splitmix64: a fast, seedable generator; each tensor gets its own stream so
// the fill can run in parallel and stay deterministic.
inline std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<float> uniform(std::size_t n, float bound, std::uint64_t seed) {
  std::vector<float> v(n);
  parallel_for(n, 1 << 16, [&](std::size_t begin, std::size_t end) {
    std::uint64_t s = seed * 0x100000001b3ull + begin;
    for (std::size_t i = begin; i < end; ++i) {
      const double u = static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-53;  // [0, 1)
      v[i] = static_cast<float>((2.0 * u - 1.0) * bound);
    }
  });
  return v;
}

}  // namespace

std::shared_ptr<const Model> random_model(const ModelConfig& config, std::uint64_t seed) {
  config.validate();
  const ModelConfig& c = config;
  const bool gpt2 = c.arch == Architecture::gpt2;
  const std::size_t d = c.dim, h = c.hidden_dim, qkv = c.q_dim() + 2 * c.kv_dim(), up = gpt2 ? h : 2 * h;
  // Uniform in [-b, b] has standard deviation b / sqrt(3): b = 0.02 sqrt(3) is GPT-2's init.
  const float b = 0.02f * std::sqrt(3.0f);
  std::uint64_t stream = seed * 1000003ull;
  ModelWeights w;
  w.token_embedding = uniform(c.vocab_size * d, b, ++stream);
  if (gpt2) w.position_embedding = uniform(c.context * d, b / 2, ++stream);
  w.layers.resize(c.n_layers);
  for (LayerWeights& lw : w.layers) {
    lw.attn_norm.assign(d, 1.0f);
    lw.ffn_norm.assign(d, 1.0f);
    lw.wqkv = uniform(qkv * d, b, ++stream);
    lw.wo = uniform(d * c.q_dim(), b, ++stream);
    lw.w_up = uniform(up * d, b, ++stream);
    lw.w_down = uniform(d * h, b, ++stream);
    if (gpt2) {
      lw.attn_norm_bias.assign(d, 0.0f);
      lw.ffn_norm_bias.assign(d, 0.0f);
      lw.bqkv = uniform(qkv, 0.01f, ++stream);
      lw.bo = uniform(d, 0.01f, ++stream);
      lw.b_up = uniform(up, 0.01f, ++stream);
      lw.b_down = uniform(d, 0.01f, ++stream);
    }
  }
  w.final_norm.assign(d, 1.0f);
  if (gpt2) w.final_norm_bias.assign(d, 0.0f);
  if (!c.tied_head) w.lm_head = uniform(c.vocab_size * d, b, ++stream);
  return Model::create(c, std::move(w));
}

}  // namespace fhellm::model
