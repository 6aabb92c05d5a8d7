// llama2.c's versioned exports (export.py --version 1: float32, --version 2:
// Q8_0), written here from the bundled stories260K legacy checkpoint by a
// writer that follows export.py, load to the same model (version 1) or to the
// Q8_0-rounded weights (version 2); hostile headers give clean errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "fhellm/error.h"
#include "model/loader.h"
#include "model/session.h"
#include "model/gguf_writer.h"

namespace fhellm::model {
namespace {

namespace fs = std::filesystem;
const fs::path kStories = fs::path(FHELLM_SOURCE_DIR) / "models/stories260K.bin";

template <typename T>
void pod(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void floats(std::string& out, const std::vector<float>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Per-layer slices of the fused tensors, in llama2.c's names.
struct Split {
  std::vector<std::vector<float>> wq, wk, wv, wo, w1, w2, w3;
};
Split split(const Model& m) {
  const ModelConfig& c = m.config();
  const std::size_t d = c.dim, kv = c.kv_dim(), h = c.hidden_dim;
  Split s;
  for (const LayerWeights& l : m.weights().layers) {
    auto part = [](const std::vector<float>& v, std::size_t at, std::size_t n) {
      return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + n));
    };
    s.wq.push_back(part(l.wqkv, 0, d * d));
    s.wk.push_back(part(l.wqkv, d * d, kv * d));
    s.wv.push_back(part(l.wqkv, d * d + kv * d, kv * d));
    s.wo.push_back(l.wo);
    s.w1.push_back(part(l.w_up, 0, h * d));
    s.w3.push_back(part(l.w_up, h * d, h * d));
    s.w2.push_back(l.w_down);
  }
  return s;
}

// export.py's quantize_q80: per group of `group` values, scale = max|w| / 127,
// q = round(w / scale). Returns the bytes written and fills `dequantized`.
std::string q80(const std::vector<float>& w, std::size_t group, std::vector<float>& dequantized) {
  std::vector<std::int8_t> q(w.size());
  std::vector<float> scales(w.size() / group);
  for (std::size_t g = 0; g < scales.size(); ++g) {
    float wmax = 0;
    for (std::size_t i = 0; i < group; ++i) wmax = std::max(wmax, std::fabs(w[g * group + i]));
    scales[g] = wmax / 127.0f;
    for (std::size_t i = 0; i < group; ++i) {
      const float x = scales[g] == 0 ? 0.0f : w[g * group + i] / scales[g];
      q[g * group + i] = static_cast<std::int8_t>(std::nearbyint(x));
    }
  }
  std::string out(reinterpret_cast<const char*>(q.data()), q.size());
  floats(out, scales);
  for (std::size_t i = 0; i < w.size(); ++i) dequantized.push_back(static_cast<float>(q[i]) * scales[i / group]);
  return out;
}

// Writes `m` as export.py does; version 2 returns the dequantized weights in
// the order written (token embedding, then each layer's wq, ..., w3).
std::string export_bytes(const Model& m, int version, bool shared, std::int32_t group, std::vector<float>* deq) {
  const ModelConfig& c = m.config();
  const ModelWeights& w = m.weights();
  std::string out;
  pod(out, std::uint32_t{0x616b3432});
  pod(out, std::int32_t{version});
  for (std::size_t v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.context})
    pod(out, static_cast<std::int32_t>(v));
  pod(out, std::uint8_t{shared});
  if (version == 2) pod(out, group);
  out.resize(256, '\0');
  for (const LayerWeights& l : w.layers) floats(out, l.attn_norm);
  for (const LayerWeights& l : w.layers) floats(out, l.ffn_norm);
  floats(out, w.final_norm);
  const Split s = split(m);
  std::vector<std::vector<float>> matrices = {w.token_embedding};
  for (const auto* part : {&s.wq, &s.wk, &s.wv, &s.wo, &s.w1, &s.w2, &s.w3})
    matrices.insert(matrices.end(), part->begin(), part->end());
  if (!shared) matrices.push_back(w.token_embedding);  // an untied classifier equal to the embedding
  for (const auto& mtx : matrices) {
    if (version == 1) {
      floats(out, mtx);
    } else {
      out += q80(mtx, static_cast<std::size_t>(group), *deq);
    }
  }
  return out;
}

fs::path write(const std::string& name, const std::string& bytes) {
  const fs::path p = testing::scratch_path(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::vector<float> logits(const std::shared_ptr<const Model>& m) {
  FloatLinear linear(*m);
  Session s(m, linear);
  const std::vector<std::int32_t> tokens = {1, 403, 407, 261, 378, 300, 404};
  return s.forward(tokens, true);
}

TEST(ModelLlama2cVersions, Version1IsTheLegacyModel) {
  const auto legacy = load_llama2c(kStories);
  for (const bool shared : {true, false}) {
    const auto v1 = load_llama2c(write("v1.bin", export_bytes(*legacy, 1, shared, 0, nullptr)));
    EXPECT_EQ(v1->config().tied_head, shared);
    EXPECT_EQ(v1->weights().layers[3].wqkv, legacy->weights().layers[3].wqkv);
    EXPECT_EQ(logits(v1), logits(legacy)) << "shared " << shared;
  }
}

TEST(ModelLlama2cVersions, Version2LoadsTheQ8Weights) {
  const auto legacy = load_llama2c(kStories);
  std::vector<float> deq;
  const auto v2 = load_llama2c(write("v2.bin", export_bytes(*legacy, 2, true, 32, &deq)));
  const ModelWeights& w = v2->weights();
  const std::size_t emb = w.token_embedding.size();
  EXPECT_EQ(w.token_embedding, std::vector<float>(deq.begin(), deq.begin() + static_cast<std::ptrdiff_t>(emb)));
  const std::size_t d = v2->config().dim;
  const std::vector<float> wq0(deq.begin() + static_cast<std::ptrdiff_t>(emb),
                               deq.begin() + static_cast<std::ptrdiff_t>(emb + d * d));
  EXPECT_EQ(std::vector<float>(w.layers[0].wqkv.begin(), w.layers[0].wqkv.begin() + static_cast<std::ptrdiff_t>(d * d)), wq0);
  EXPECT_EQ(w.layers[2].attn_norm, legacy->weights().layers[2].attn_norm);  // norms stay float32
  const auto a = logits(v2), b = logits(legacy);
  double err2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err2 += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    ref2 += double(b[i]) * b[i];
  }
  std::printf("stories260K llama2.c v2 (Q8_0, groups of 32) vs legacy: relative L2 logit error %g\n",
              std::sqrt(err2 / ref2));
  EXPECT_LT(std::sqrt(err2 / ref2), 0.03);
}

TEST(ModelLlama2cVersions, HostileHeadersAreRefused) {
  const auto legacy = load_llama2c(kStories);
  std::vector<float> deq;
  const std::string v2 = export_bytes(*legacy, 2, true, 32, &deq);
  auto code_of = [](const std::string& bytes) {
    try {
      load_llama2c(write("bad.bin", bytes));
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal_error;
  };
  std::string v3 = v2;
  v3[4] = 3;
  EXPECT_EQ(code_of(v3), ErrorCode::bad_version);
  EXPECT_EQ(code_of(v2.substr(0, 200)), ErrorCode::truncated);
  EXPECT_EQ(code_of(v2.substr(0, v2.size() - 1)), ErrorCode::truncated);
  EXPECT_EQ(code_of(v2 + "x"), ErrorCode::bad_model_file);
  std::string bad_group = v2;
  const std::int32_t g = 48;  // does not divide dim 64
  std::memcpy(bad_group.data() + 37, &g, 4);
  EXPECT_EQ(code_of(bad_group), ErrorCode::bad_model_file);
  std::string bad_flag = v2;
  bad_flag[36] = 7;
  EXPECT_EQ(code_of(bad_flag), ErrorCode::bad_model_file);
  std::string negative_vocab = v2;
  const std::int32_t minus = -512;
  std::memcpy(negative_vocab.data() + 28, &minus, 4);
  EXPECT_EQ(code_of(negative_vocab), ErrorCode::bad_model_file);
}

}  // namespace
}  // namespace fhellm::model
