// Loaders: valid synthetic folders load; truncated, garbled or inconsistent
// files give the exact fhellm::Error, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "fhellm/error.h"
#include "model/loader.h"
#include "model/safetensors.h"
#include "model/session.h"
#include "model/reference_util.h"

namespace fhellm::model {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder per test, removed at the end.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("fhellm_model_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Tensor {
  std::vector<std::size_t> shape;
  std::vector<float> data;
  std::string dtype = "F32";  // F32, F16 or BF16 (values must be exact in the dtype)
};

// Writes a safetensors file of the given tensors (our own writer: the layout
// of model/safetensors.h).
std::string safetensors_bytes(const std::map<std::string, Tensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const std::size_t begin = data.size();
    for (float v : t.data) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      if (t.dtype == "F32") {
        data.append(reinterpret_cast<const char*>(&v), 4);
      } else if (t.dtype == "BF16") {
        const std::uint16_t h = static_cast<std::uint16_t>(bits >> 16);
        data.append(reinterpret_cast<const char*>(&h), 2);
      } else {  // F16 for values in the normal range
        const std::uint32_t sign = (bits >> 16) & 0x8000u;
        const int exp = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
        const std::uint16_t h =
            v == 0.0f ? static_cast<std::uint16_t>(sign)
                      : static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(exp) << 10) | ((bits >> 13) & 0x3ffu));
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  const std::string h = header.dump();
  const std::uint64_t n = h.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + h + data;
}

// Values exact in F16 and BF16: multiples of 1/64 in [-1, 1].
std::vector<float> values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(static_cast<int>(rng() % 129) - 64) / 64.0f;
  return v;
}

// A tiny GPT-2: dim 8, 2 heads, 1 layer, vocab 16, context 8, Conv1D [in, out].
std::map<std::string, Tensor> tiny_gpt2_tensors(const std::string& dtype = "F32") {
  std::map<std::string, Tensor> t;
  std::uint32_t seed = 1;
  auto add = [&](const std::string& name, std::vector<std::size_t> shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    t[name] = {shape, values(n, seed++), dtype};
  };
  add("wte.weight", {16, 8});
  add("wpe.weight", {8, 8});
  add("h.0.ln_1.weight", {8});
  add("h.0.ln_1.bias", {8});
  add("h.0.attn.c_attn.weight", {8, 24});
  add("h.0.attn.c_attn.bias", {24});
  add("h.0.attn.c_proj.weight", {8, 8});
  add("h.0.attn.c_proj.bias", {8});
  add("h.0.ln_2.weight", {8});
  add("h.0.ln_2.bias", {8});
  add("h.0.mlp.c_fc.weight", {8, 32});
  add("h.0.mlp.c_fc.bias", {32});
  add("h.0.mlp.c_proj.weight", {32, 8});
  add("h.0.mlp.c_proj.bias", {8});
  add("ln_f.weight", {8});
  add("ln_f.bias", {8});
  t["h.0.attn.bias"] = {{1, 1, 8, 8}, std::vector<float>(64, 1.0f), "F32"};  // mask buffer: ignored
  return t;
}

const char* kTinyGpt2Config =
    R"({"model_type": "gpt2", "vocab_size": 16, "n_positions": 8, "n_embd": 8, "n_layer": 1, "n_head": 2,
        "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "tie_word_embeddings": true})";

void write_folder(const fs::path& dir, const std::string& config, const std::map<std::string, Tensor>& tensors) {
  write_bytes(dir / "config.json", config);
  write_bytes(dir / "model.safetensors", safetensors_bytes(tensors));
}

template <typename F>
void expect_error(ErrorCode code, F&& f, const std::string& must_mention = "") {
  try {
    f();
    ADD_FAILURE() << "no error, expected " << error_code_name(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    if (!must_mention.empty()) {
      EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
    }
  }
}

TEST(HfLoader, LoadsTinyGpt2AndTransposesConv1D) {
  TempDir tmp;
  auto tensors = tiny_gpt2_tensors();
  write_folder(tmp.path(), kTinyGpt2Config, tensors);
  auto model = load_model(tmp.path());
  EXPECT_EQ(model->config().arch, Architecture::gpt2);
  EXPECT_EQ(model->config().hidden_dim, 32u);
  // c_attn [in 8, out 24] becomes wqkv [24, 8]: wqkv[o][i] == c_attn[i][o].
  const auto& c_attn = tensors["h.0.attn.c_attn.weight"].data;
  const LinearView v = model->linear({0, LinearKind::qkv});
  ASSERT_EQ(v.n_out, 24u);
  for (std::size_t o = 0; o < 24; ++o)
    for (std::size_t i = 0; i < 8; ++i) ASSERT_EQ(v.weight[o * 8 + i], c_attn[i * 24 + o]);
  EXPECT_EQ(model->linear({-1, LinearKind::lm_head}).weight, model->weights().token_embedding.data());
  FloatLinear linear(*model);
  Session s(model, linear);
  const std::vector<TokenId> prompt = {1, 2, 3};
  const auto logits = s.forward(prompt);
  EXPECT_EQ(logits.size(), 16u);
}

TEST(HfLoader, ReadsF16AndBf16AsTheSameValues) {
  TempDir a, b, c;
  write_folder(a.path(), kTinyGpt2Config, tiny_gpt2_tensors("F32"));
  write_folder(b.path(), kTinyGpt2Config, tiny_gpt2_tensors("F16"));
  write_folder(c.path(), kTinyGpt2Config, tiny_gpt2_tensors("BF16"));
  auto ma = load_model(a.path()), mb = load_model(b.path()), mc = load_model(c.path());
  EXPECT_EQ(ma->weights().token_embedding, mb->weights().token_embedding);
  EXPECT_EQ(ma->weights().token_embedding, mc->weights().token_embedding);
  EXPECT_EQ(ma->weights().layers[0].w_down, mb->weights().layers[0].w_down);
  EXPECT_EQ(ma->weights().layers[0].w_down, mc->weights().layers[0].w_down);
}

TEST(HfLoader, ReadsShardedFolders) {
  TempDir tmp;
  auto all = tiny_gpt2_tensors();
  std::map<std::string, Tensor> first, second;
  nlohmann::json map = nlohmann::json::object();
  for (auto& [name, t] : all) {
    const bool one = name.rfind("h.0.mlp", 0) == 0;
    (one ? first : second)[name] = t;
    map[name] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_bytes(tmp.path() / "config.json", kTinyGpt2Config);
  write_bytes(tmp.path() / "model-00001-of-00002.safetensors", safetensors_bytes(first));
  write_bytes(tmp.path() / "model-00002-of-00002.safetensors", safetensors_bytes(second));
  write_bytes(tmp.path() / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  auto model = load_model(tmp.path());
  EXPECT_EQ(model->weights().layers[0].b_up, all["h.0.mlp.c_fc.bias"].data);

  // A shard name that leaves the folder is refused.
  map["wte.weight"] = "../elsewhere.safetensors";
  write_bytes(tmp.path() / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  expect_error(ErrorCode::bad_model_file, [&] { load_model(tmp.path()); }, "../elsewhere");
}

TEST(HfLoader, RejectsMissingTensorsWrongShapesAndUnknownArchitectures) {
  TempDir tmp;
  auto tensors = tiny_gpt2_tensors();
  tensors.erase("h.0.mlp.c_fc.bias");
  write_folder(tmp.path(), kTinyGpt2Config, tensors);
  expect_error(ErrorCode::missing_tensor, [&] { load_model(tmp.path()); }, "h.0.mlp.c_fc.bias");

  tensors = tiny_gpt2_tensors();
  tensors["h.0.attn.c_proj.weight"] = {{8, 9}, values(72, 7), "F32"};
  write_folder(tmp.path(), kTinyGpt2Config, tensors);
  expect_error(ErrorCode::tensor_shape_mismatch, [&] { load_model(tmp.path()); }, "[8, 9]");

  write_folder(tmp.path(), R"({"model_type": "bert", "vocab_size": 16})", tiny_gpt2_tensors());
  expect_error(ErrorCode::unsupported_architecture, [&] { load_model(tmp.path()); }, "bert");

  write_folder(tmp.path(), R"({"model_type": "gpt2", "n_embd": -3})", tiny_gpt2_tensors());
  expect_error(ErrorCode::bad_config, [&] { load_model(tmp.path()); }, "n_embd");

  write_folder(tmp.path(), "{not json", tiny_gpt2_tensors());
  expect_error(ErrorCode::bad_config, [&] { load_model(tmp.path()); });
}

TEST(Safetensors, RejectsTruncatedAndGarbledFiles) {
  TempDir tmp;
  const std::string good = safetensors_bytes(tiny_gpt2_tensors());
  const fs::path f = tmp.path() / "x.safetensors";
  write_bytes(f, good.substr(0, 5));
  expect_error(ErrorCode::truncated, [&] { SafetensorsFile s(f); });
  write_bytes(f, good.substr(0, good.size() - 100));
  expect_error(ErrorCode::truncated, [&] { SafetensorsFile s(f); }, "outside");
  std::string huge = good;
  const std::uint64_t n = 1ull << 62;
  std::memcpy(huge.data(), &n, 8);
  write_bytes(f, huge);
  expect_error(ErrorCode::truncated, [&] { SafetensorsFile s(f); });
  std::string garbled = good;
  garbled[8] = '#';  // JSON header no longer parses
  write_bytes(f, garbled);
  expect_error(ErrorCode::bad_model_file, [&] { SafetensorsFile s(f); });
  // Shape and offsets that disagree.
  nlohmann::json h = {{"t", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 12}}}}};
  std::string hs = h.dump();
  std::uint64_t hn = hs.size();
  write_bytes(f, std::string(reinterpret_cast<const char*>(&hn), 8) + hs + std::string(12, '\0'));
  expect_error(ErrorCode::bad_model_file, [&] { SafetensorsFile s(f); }, "'t'");
  h = {{"t", {{"dtype", "Q4"}, {"shape", {4}}, {"data_offsets", {0, 16}}}}};
  hs = h.dump();
  hn = hs.size();
  write_bytes(f, std::string(reinterpret_cast<const char*>(&hn), 8) + hs + std::string(16, '\0'));
  expect_error(ErrorCode::unsupported_dtype, [&] { SafetensorsFile s(f); }, "Q4");
  expect_error(ErrorCode::file_not_found, [&] { SafetensorsFile s(tmp.path() / "absent.safetensors"); });
}

TEST(ModelLlama2cLoader, RejectsTruncatedAndGarbledCheckpoints) {
  TempDir tmp;
  const std::string good = read_bytes(testing::bundled_model());
  const fs::path f = tmp.path() / "m.bin";
  write_bytes(f, good.substr(0, 20));
  expect_error(ErrorCode::truncated, [&] { load_llama2c(f); }, "28-byte header");
  write_bytes(f, good.substr(0, good.size() - 4));
  expect_error(ErrorCode::truncated, [&] { load_llama2c(f); }, "1056540");
  write_bytes(f, good + "xxxx");
  expect_error(ErrorCode::bad_model_file, [&] { load_llama2c(f); }, "trailing");
  std::string bad = good;
  const std::int32_t neg = -5;
  std::memcpy(bad.data() + 8, &neg, 4);  // n_layers
  write_bytes(f, bad);
  expect_error(ErrorCode::bad_model_file, [&] { load_llama2c(f); }, "-5");
  bad = good;
  const std::int32_t huge = 1 << 30;
  std::memcpy(bad.data(), &huge, 4);  // dim
  write_bytes(f, bad);
  expect_error(ErrorCode::bad_config, [&] { load_llama2c(f); }, "dim");
  bad = good;
  const std::int32_t three = 3;
  std::memcpy(bad.data() + 16, &three, 4);  // n_kv_heads 3 does not divide 8 heads
  write_bytes(f, bad);
  expect_error(ErrorCode::bad_config, [&] { load_llama2c(f); }, "n_kv_heads");
  expect_error(ErrorCode::file_not_found, [&] { load_model(tmp.path() / "absent.bin"); });
}

// The same stories260K weights written as a Hugging Face Llama folder (q/k
// rows permuted to the rotate_half layout, as the llama2.c exporter does)
// must give the same logits: checks the HF Llama names and RoPE pairing.
TEST(ModelHfLlama, Stories260KAsHfFolderGivesTheSameLogits) {
  auto ref = load_model(testing::bundled_model());
  const ModelConfig& c = ref->config();
  const ModelWeights& w = ref->weights();
  const std::size_t d = c.dim, hd = c.head_dim, kv = c.kv_dim(), h = c.hidden_dim;
  // HF row (head, c * hd/2 + i) holds Meta row (head, 2 i + c).
  auto permute = [&](const float* rows, std::size_t n_heads) {
    std::vector<float> out(n_heads * hd * d);
    for (std::size_t head = 0; head < n_heads; ++head)
      for (std::size_t cc = 0; cc < 2; ++cc)
        for (std::size_t i = 0; i < hd / 2; ++i)
          std::memcpy(&out[(head * hd + cc * hd / 2 + i) * d], &rows[(head * hd + 2 * i + cc) * d], d * sizeof(float));
    return out;
  };
  std::map<std::string, Tensor> t;
  t["model.embed_tokens.weight"] = {{c.vocab_size, d}, w.token_embedding};
  t["model.norm.weight"] = {{d}, w.final_norm};
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const float* q = lw.wqkv.data();
    t[p + "self_attn.q_proj.weight"] = {{d, d}, permute(q, c.n_heads)};
    t[p + "self_attn.k_proj.weight"] = {{kv, d}, permute(q + d * d, c.n_kv_heads)};
    t[p + "self_attn.v_proj.weight"] = {{kv, d}, std::vector<float>(q + d * d + kv * d, q + d * d + 2 * kv * d)};
    t[p + "self_attn.o_proj.weight"] = {{d, d}, lw.wo};
    t[p + "input_layernorm.weight"] = {{d}, lw.attn_norm};
    t[p + "post_attention_layernorm.weight"] = {{d}, lw.ffn_norm};
    t[p + "mlp.gate_proj.weight"] = {{h, d}, std::vector<float>(lw.w_up.begin(), lw.w_up.begin() + h * d)};
    t[p + "mlp.up_proj.weight"] = {{h, d}, std::vector<float>(lw.w_up.begin() + h * d, lw.w_up.end())};
    t[p + "mlp.down_proj.weight"] = {{d, h}, lw.w_down};
  }
  const std::string config = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
      "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4,
      "vocab_size": 512, "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
      "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2})";
  TempDir tmp;
  write_folder(tmp.path(), config, t);
  auto hf = load_model(tmp.path());
  EXPECT_EQ(hf->config().rope_style, RopeStyle::half);
  FloatLinear la(*ref), lb(*hf);
  Session sa(ref, la), sb(hf, lb);
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378, 432};
  const auto a = sa.forward(prompt, true), b = sb.forward(prompt, true);
  ASSERT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  std::printf("stories260K llama2.c vs HF layout: largest logit difference %.3g\n", worst);
  EXPECT_LT(worst, 1e-4);

  // Untied head without lm_head.weight: a missing tensor.
  std::string untied = config;
  untied.replace(untied.find("\"tie_word_embeddings\": true"), 27, "\"tie_word_embeddings\": false");
  write_folder(tmp.path(), untied, t);
  expect_error(ErrorCode::missing_tensor, [&] { load_model(tmp.path()); }, "lm_head.weight");
}

// A model_type that is not a string is a bad config (exit 3), not an
// internal error (it escaped as a JSON type error, exit 7, before).
TEST(HfConfig, NonStringModelTypeIsABadConfig) {
  for (const char* type : {"5", "null", "[\"llama\"]", "{}"}) {
    try {
      parse_hf_config(std::string(R"({"model_type": )") + type + R"(, "hidden_size": 64})");
      FAIL() << "model_type " << type << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::bad_config) << e.what();
      EXPECT_EQ(exit_code_for(e.kind()), 3);
    }
  }
}

TEST(HfConfig, ParsesLlama3RopeScaling) {
  const auto c = parse_hf_config(R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
      "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
      "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true,
      "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"},
      "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})");
  EXPECT_TRUE(c.rope_scaling.enabled);
  EXPECT_EQ(c.rope_scaling.factor, 32.0f);
  EXPECT_EQ(c.head_dim, 64u);
  EXPECT_EQ(c.eos_id, 128001);
  EXPECT_TRUE(c.tied_head);
  // Scaling: highest frequencies unchanged, lowest divided by the factor.
  ModelConfig small = c;
  small.vocab_size = 4;
  small.n_layers = 1;
  small.dim = 64;
  small.n_heads = 1;
  small.n_kv_heads = 1;
  small.hidden_dim = 4;
  small.context = 4;
  auto scaled = random_model(small, 1);
  small.rope_scaling.enabled = false;
  auto plain = random_model(small, 1);
  const auto& fs = scaled->rope_inv_freq();
  const auto& fp = plain->rope_inv_freq();
  EXPECT_FLOAT_EQ(fs[0], fp[0]);
  EXPECT_FLOAT_EQ(fs.back(), fp.back() / 32.0f);
  for (std::size_t i = 0; i < fs.size(); ++i) {
    EXPECT_LE(fs[i], fp[i] * 1.000001f);
    EXPECT_GE(fs[i], fp[i] / 32.0f * 0.999999f);
  }
  EXPECT_THROW(parse_hf_config(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 8,
      "num_hidden_layers": 1, "num_attention_heads": 1, "vocab_size": 4,
      "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})"), Error);
}

}  // namespace
}  // namespace fhellm::model
