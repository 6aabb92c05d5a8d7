// GGUF reader and loader: tiny models written by the test GGUF writer in
// F32 / F16 / Q8_0 / Q4_0 load to the same weights and the same logits as
// the same weights loaded another way; hostile files give a clean Error.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <random>

#include "fhellm/error.h"
#include "model/gguf.h"
#include "model/loader.h"
#include "model/session.h"
#include "model/gguf_model_writer.h"
#include "model/gguf_writer.h"
#include "model/reference_util.h"

namespace fhellm::model {
namespace {

namespace fs = std::filesystem;
using testing::GgufWriter;
using testing::WriterType;
using testing::append;
using testing::write_model_gguf;

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}


std::vector<float> all_logits(const std::shared_ptr<const Model>& m, const std::vector<TokenId>& tokens) {
  FloatLinear linear(*m);
  Session s(m, linear);
  // Prefill then one decode step: both paths of the forward pass.
  std::vector<float> out = s.forward(std::span(tokens.data(), tokens.size() - 1), true);
  append(out, s.forward(std::span(tokens.data() + tokens.size() - 1, 1), true));
  return out;
}

void expect_same_weights(const ModelWeights& a, const ModelWeights& b) {
  EXPECT_EQ(a.token_embedding, b.token_embedding);
  EXPECT_EQ(a.position_embedding, b.position_embedding);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    const LayerWeights &x = a.layers[l], &y = b.layers[l];
    EXPECT_EQ(x.attn_norm, y.attn_norm) << l;
    EXPECT_EQ(x.attn_norm_bias, y.attn_norm_bias) << l;
    EXPECT_EQ(x.wqkv, y.wqkv) << l;
    EXPECT_EQ(x.bqkv, y.bqkv) << l;
    EXPECT_EQ(x.wo, y.wo) << l;
    EXPECT_EQ(x.bo, y.bo) << l;
    EXPECT_EQ(x.ffn_norm, y.ffn_norm) << l;
    EXPECT_EQ(x.ffn_norm_bias, y.ffn_norm_bias) << l;
    EXPECT_EQ(x.w_up, y.w_up) << l;
    EXPECT_EQ(x.b_up, y.b_up) << l;
    EXPECT_EQ(x.w_down, y.w_down) << l;
    EXPECT_EQ(x.b_down, y.b_down) << l;
  }
  EXPECT_EQ(a.final_norm, b.final_norm);
  EXPECT_EQ(a.final_norm_bias, b.final_norm_bias);
  EXPECT_EQ(a.lm_head, b.lm_head);
}

ModelConfig tiny_llama() {
  ModelConfig c;
  c.arch = Architecture::llama;
  c.dim = 64;
  c.hidden_dim = 96;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 40;
  c.context = 32;
  c.rope_style = RopeStyle::interleaved;
  c.tied_head = false;
  return c;
}

ModelConfig tiny_gpt2() {
  ModelConfig c;
  c.arch = Architecture::gpt2;
  c.dim = 64;
  c.hidden_dim = 128;
  c.n_layers = 2;
  c.n_heads = c.n_kv_heads = 4;
  c.head_dim = 16;
  c.vocab_size = 50;
  c.context = 16;
  c.tied_head = true;
  return c;
}

const std::vector<TokenId> kTokens = {1, 5, 9, 3, 7, 30, 2, 11};

class GgufTypes : public ::testing::TestWithParam<WriterType> {};

TEST_P(GgufTypes, TinyLlamaLoadsTheStoredWeightsAndLogits) {
  const ModelConfig c = tiny_llama();
  const auto original = random_model(c, 42);
  const auto path = testing::scratch_path("tiny_llama_" + std::to_string(static_cast<int>(GetParam())) + ".gguf");
  const ModelWeights stored = write_model_gguf(path, c, original->weights(), GetParam());
  const auto loaded = load_gguf(path);
  EXPECT_EQ(loaded->config().dim, c.dim);
  EXPECT_EQ(loaded->config().n_kv_heads, c.n_kv_heads);
  EXPECT_FALSE(loaded->config().tied_head);
  expect_same_weights(loaded->weights(), stored);
  const auto reference = Model::create(c, stored);
  EXPECT_EQ(all_logits(loaded, kTokens), all_logits(reference, kTokens));
  if (GetParam() == WriterType::f32) {
    EXPECT_EQ(all_logits(loaded, kTokens), all_logits(original, kTokens));
  }
  EXPECT_EQ(load_model(path)->config().n_layers, c.n_layers);  // dispatch by extension
}

TEST_P(GgufTypes, TinyGpt2LoadsTheStoredWeightsAndLogits) {
  const ModelConfig c = tiny_gpt2();
  const auto original = random_model(c, 7);
  const auto path = testing::scratch_path("tiny_gpt2_" + std::to_string(static_cast<int>(GetParam())) + ".gguf");
  const ModelWeights stored = write_model_gguf(path, c, original->weights(), GetParam());
  const auto loaded = load_gguf(path);
  EXPECT_EQ(loaded->config().arch, Architecture::gpt2);
  EXPECT_TRUE(loaded->config().tied_head);  // output.weight equals token_embd
  expect_same_weights(loaded->weights(), stored);
  EXPECT_EQ(all_logits(loaded, kTokens), all_logits(Model::create(c, stored), kTokens));
}

INSTANTIATE_TEST_SUITE_P(Types, GgufTypes,
                         ::testing::Values(WriterType::f32, WriterType::f16, WriterType::q8_0, WriterType::q4_0),
                         [](const auto& info) {
                           switch (info.param) {
                             case WriterType::f32: return std::string("F32");
                             case WriterType::f16: return std::string("F16");
                             case WriterType::q8_0: return std::string("Q8_0");
                             default: return std::string("Q4_0");
                           }
                         });

TEST(GgufModel, Stories260KMatchesTheLlama2cCheckpoint) {
  const fs::path bin = testing::bundled_model();
  const auto from_bin = load_llama2c(bin);
  const auto path = testing::scratch_path("stories260K.gguf");
  write_model_gguf(path, from_bin->config(), from_bin->weights(), WriterType::f32);
  const auto from_gguf = load_gguf(path);
  const auto a = all_logits(from_gguf, kTokens), b = all_logits(from_bin, kTokens);
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  std::printf("stories260K GGUF F32 vs llama2.c checkpoint: max |logit diff| = %g\n", worst);
  EXPECT_EQ(a, b);
  // Greedy ids of llama2.c run.c from the GGUF-loaded model.
  const auto ref = testing::read_json(testing::test_data("stories260K_runc_greedy.json"));
  const auto& c0 = ref["cases"][0];
  const auto expected = c0["greedy_ids"].get<std::vector<TokenId>>();
  FloatLinear linear(*from_gguf);
  Session s(from_gguf, linear);
  const auto ids = testing::greedy(s, c0["prompt_ids"].get<std::vector<TokenId>>(), 40, [](auto, auto&) {});
  EXPECT_EQ(ids, std::vector<TokenId>(expected.begin(), expected.begin() + 40));
  // Q8_0 (F16 where rows are not whole blocks): close to the float logits.
  write_model_gguf(path, from_bin->config(), from_bin->weights(), WriterType::q8_0);
  const auto q = all_logits(load_gguf(path), kTokens);
  double err2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < q.size(); ++i) {
    err2 += (double(q[i]) - b[i]) * (double(q[i]) - b[i]);
    ref2 += double(b[i]) * b[i];
  }
  std::printf("stories260K GGUF Q8_0 vs F32: relative L2 logit error = %g\n", std::sqrt(err2 / ref2));
  EXPECT_LT(std::sqrt(err2 / ref2), 0.02);
  const std::size_t vocab = from_bin->config().vocab_size;
  for (std::size_t row = 0; row < kTokens.size(); ++row) {
    const auto argmax = [&](const std::vector<float>& l) {
      return std::max_element(l.begin() + row * vocab, l.begin() + (row + 1) * vocab) - l.begin();
    };
    EXPECT_EQ(argmax(q), argmax(b)) << "row " << row;
  }
}

TEST(GgufModel, Gpt2TinyRandomMatchesTheSafetensorsFolder) {
  if (!testing::have_shared("models/gpt2-tiny-random")) {
    GTEST_SKIP() << "needs ../shared: no " << testing::shared_dir() << "/models/gpt2-tiny-random";
  }
  const auto hf = load_hf_folder(testing::shared_dir() / "models/gpt2-tiny-random");
  const auto path = testing::scratch_path("gpt2_tiny_random.gguf");
  write_model_gguf(path, hf->config(), hf->weights(), WriterType::f32);
  const auto g = load_gguf(path);
  EXPECT_EQ(all_logits(g, kTokens), all_logits(hf, kTokens));
}

TEST(Gguf, MetadataAndVocabulary) {
  const ModelConfig c = tiny_llama();
  const auto path = testing::scratch_path("vocab.gguf");
  write_model_gguf(path, c, random_model(c, 1)->weights(), WriterType::f32, true);
  GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_count("llama.block_count"), 2u);
  EXPECT_FALSE(f.get_count("llama.nothing").has_value());
  EXPECT_THROW(f.get_string("llama.block_count"), Error);
  const GgufVocab v = read_gguf_vocab(f);
  EXPECT_EQ(v.model, "llama");
  ASSERT_EQ(v.tokens.size(), c.vocab_size);
  EXPECT_EQ(v.tokens[7], "tok7");
  EXPECT_EQ(v.scores[7], -7.0f);
  EXPECT_EQ(v.token_types[1], 3);
  EXPECT_EQ(v.bos, 1);
  EXPECT_EQ(v.eos, 2);
  const auto m = load_gguf(path);
  EXPECT_EQ(m->config().bos_id, 1);
  EXPECT_EQ(m->config().eos_id, 2);
}

TEST(Gguf, DecodesHalfAndBfloatBitPatterns) {
  // F16: +0, -0, smallest subnormal, largest subnormal, 1, -2, 65504, +inf.
  const std::vector<std::uint16_t> half = {0x0000, 0x8000, 0x0001, 0x03FF, 0x3C00, 0xC000, 0x7BFF, 0x7C00};
  const std::vector<float> half_values = {0.0f, -0.0f, 0x1p-24f, 0x3FFp-24f, 1.0f, -2.0f, 65504.0f,
                                          std::numeric_limits<float>::infinity()};
  // BF16: the top 16 bits of a float32.
  const std::vector<float> bf_values = {1.0f, -3.5f, 0x1p-130f, 0x1.02p100f, 0.0f, -0.0f, 2.0f, 0.15625f};
  std::string half_bytes, bf_bytes, q4_bytes;
  for (auto h : half) half_bytes.append(reinterpret_cast<const char*>(&h), 2);
  for (float f : bf_values) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const auto top = static_cast<std::uint16_t>(bits >> 16);
    bf_bytes.append(reinterpret_cast<const char*>(&top), 2);
  }
  // Q4_0 block with d = 0.5: values (nibble - 8) * 0.5; low nibbles first.
  const std::uint16_t d = 0x3800;
  q4_bytes.append(reinterpret_cast<const char*>(&d), 2);
  for (int k = 0; k < 16; ++k) q4_bytes.push_back(static_cast<char>(k | (15 - k) << 4));
  GgufWriter g;
  g.add_tensor_bytes("half", {8}, 1, half_bytes);
  g.add_tensor_bytes("bf16", {8}, 30, bf_bytes);
  g.add_tensor_bytes("q4", {32}, 2, q4_bytes);
  const auto path = testing::scratch_path("bits.gguf");
  write_bytes(path, g.bytes());
  const GgufFile f(path);
  const auto h = f.read_float("half");
  for (std::size_t i = 0; i < half.size(); ++i) {
    EXPECT_EQ(h[i], half_values[i]) << i;
    EXPECT_EQ(std::signbit(h[i]), std::signbit(half_values[i])) << i;
  }
  EXPECT_EQ(f.read_float("bf16"), bf_values);
  const auto q = f.read_float("q4");
  for (int k = 0; k < 16; ++k) {
    EXPECT_EQ(q[static_cast<std::size_t>(k)], 0.5f * static_cast<float>(k - 8));
    EXPECT_EQ(q[static_cast<std::size_t>(k) + 16], 0.5f * static_cast<float>(7 - k));
  }
  try {
    f.read_float("nothing");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::missing_tensor);
  }
}

// Llama 3.1 files carry RoPE scaling as rope_freqs (base / scaled inverse
// frequency per pair), computed here from the published formula.
std::vector<float> llama3_rope_freqs(std::size_t head_dim, double theta, double factor) {
  const double low = 1.0, high = 4.0, old_ctx = 8192.0;
  std::vector<float> out;
  for (std::size_t i = 0; i < head_dim / 2; ++i) {
    const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    double scaled = freq;
    if (wavelen > old_ctx / low) {
      scaled = freq / factor;
    } else if (wavelen >= old_ctx / high) {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      scaled = (1 - smooth) * freq / factor + smooth * freq;
    }
    out.push_back(static_cast<float>(freq / scaled));
  }
  return out;
}

TEST(Gguf, Llama3RopeFreqsBecomeRopeScaling) {
  ModelConfig c = tiny_llama();
  c.rope_theta = 500000.0f;
  c.head_dim = 32;  // 16 frequencies: some kept, some in the smooth band, some divided
  c.n_heads = 2;
  c.n_kv_heads = 1;
  const auto w = random_model(c, 5)->weights();
  const auto path = testing::scratch_path("llama3_rope.gguf");
  const auto with_freqs = [&](double file_factor, double metadata_factor) {
    return [=](GgufWriter& g) {
      g.add_f32("llama.rope.scaling.factor", static_cast<float>(metadata_factor));
      g.add_tensor("rope_freqs.weight", {c.head_dim / 2}, WriterType::f32,
                   llama3_rope_freqs(c.head_dim, c.rope_theta, file_factor));
    };
  };
  write_model_gguf(path, c, w, WriterType::f32, false, with_freqs(32.0, 32.0));
  const auto m = load_gguf(path);
  EXPECT_TRUE(m->config().rope_scaling.enabled);
  EXPECT_EQ(m->config().rope_scaling.factor, 32.0f);
  const auto freqs = llama3_rope_freqs(c.head_dim, c.rope_theta, 32.0);
  int kept = 0, scaled = 0;
  for (float f : freqs) (f == 1.0f ? kept : scaled)++;
  EXPECT_GT(kept, 0);
  EXPECT_GT(scaled, 0);
  // Factors that do not follow the Llama 3 formula for the declared factor.
  write_model_gguf(path, c, w, WriterType::f32, false, with_freqs(16.0, 32.0));
  try {
    load_gguf(path);
    ADD_FAILURE() << "mismatched rope_freqs accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported_architecture) << e.what();
  }
}

// ---- hostile files -------------------------------------------------------

void expect_code(ErrorCode code, const std::string& bytes, bool load_model_too = false) {
  const auto path = testing::scratch_path("hostile.gguf");
  write_bytes(path, bytes);
  try {
    if (load_model_too) {
      load_gguf(path);
    } else {
      GgufFile f(path);
    }
    ADD_FAILURE() << "expected Error(" << error_code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

std::string header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
  std::string s = "GGUF";
  s.append(reinterpret_cast<const char*>(&version), 4);
  s.append(reinterpret_cast<const char*>(&n_tensors), 8);
  s.append(reinterpret_cast<const char*>(&n_kv), 8);
  return s;
}

template <typename T>
std::string pod(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(T));
}
std::string gstr(const std::string& s) { return pod(std::uint64_t{s.size()}) + s; }

TEST(Gguf, RejectsHostileHeaders) {
  expect_code(ErrorCode::truncated, "");
  expect_code(ErrorCode::truncated, "GG");
  expect_code(ErrorCode::bad_magic, "GGML" + std::string(20, '\0'));
  expect_code(ErrorCode::bad_version, header(1, 0, 0));
  expect_code(ErrorCode::bad_version, header(4, 0, 0));
  EXPECT_NO_THROW(GgufFile(([] {
    const auto p = testing::scratch_path("empty_ok.gguf");
    write_bytes(p, header(3, 0, 0));
    return p;
  })()));
  expect_code(ErrorCode::bad_model_file, header(3, std::uint64_t{1} << 62, 0));
  expect_code(ErrorCode::bad_model_file, header(3, 0, ~std::uint64_t{0}));
  // A key longer than the file.
  expect_code(ErrorCode::bad_model_file, header(3, 0, 1) + pod(std::uint64_t{1} << 40) + "abc");
  expect_code(ErrorCode::truncated, header(3, 0, 1) + pod(std::uint64_t{100}) + "abc" + std::string(20, 'x'));
  // Unknown value type, bad bool, huge array, nested arrays too deep.
  expect_code(ErrorCode::bad_model_file, header(3, 0, 1) + gstr("k") + pod(std::uint32_t{13}) + pod(std::uint32_t{0}));
  expect_code(ErrorCode::bad_model_file, header(3, 0, 1) + gstr("k") + pod(std::uint32_t{7}) + pod(std::uint8_t{2}));
  expect_code(ErrorCode::bad_model_file, header(3, 0, 1) + gstr("k") + pod(std::uint32_t{9}) + pod(std::uint32_t{6}) +
                                             pod(std::uint64_t{1} << 40) + std::string(16, '\0'));
  std::string nested = header(3, 0, 1) + gstr("k");
  for (int i = 0; i < 6; ++i) nested += pod(std::uint32_t{9}) + pod(std::uint32_t{9}) + pod(std::uint64_t{1});
  expect_code(ErrorCode::bad_model_file, nested + std::string(64, '\0'));
  // Duplicate key; bad alignment.
  expect_code(ErrorCode::bad_model_file, header(3, 0, 2) + gstr("k") + pod(std::uint32_t{4}) + pod(std::uint32_t{1}) +
                                             gstr("k") + pod(std::uint32_t{4}) + pod(std::uint32_t{1}));
  expect_code(ErrorCode::bad_model_file,
              header(3, 0, 1) + gstr("general.alignment") + pod(std::uint32_t{4}) + pod(std::uint32_t{3}));
}

TEST(Gguf, RejectsHostileTensorInfos) {
  const auto with_tensor = [](const std::vector<std::uint64_t>& ne, std::uint32_t type, std::uint64_t offset,
                              std::size_t data_bytes) {
    GgufWriter g;
    g.add_tensor_info("t", ne, type, offset);
    return g.bytes() + std::string(data_bytes, '\0');
  };
  EXPECT_NO_THROW(GgufFile(([&] {
    const auto p = testing::scratch_path("tensor_ok.gguf");
    write_bytes(p, with_tensor({4, 2}, 0, 0, 32));
    return p;
  })()));
  expect_code(ErrorCode::bad_model_file, with_tensor({}, 0, 0, 32));               // 0 dims
  expect_code(ErrorCode::bad_model_file, with_tensor({1, 1, 1, 1, 1}, 0, 0, 32));  // 5 dims
  expect_code(ErrorCode::bad_model_file, with_tensor({4, 0}, 0, 0, 32));           // empty dimension
  expect_code(ErrorCode::bad_model_file, with_tensor({1ull << 30, 1ull << 30, 4}, 0, 0, 32));  // overflow
  expect_code(ErrorCode::unsupported_dtype, with_tensor({4, 2}, 99, 0, 32));
  expect_code(ErrorCode::bad_model_file, with_tensor({33, 2}, 8, 0, 200));  // Q8_0 rows not whole blocks
  expect_code(ErrorCode::bad_model_file, with_tensor({4, 2}, 0, 4, 64));    // misaligned offset
  expect_code(ErrorCode::truncated, with_tensor({4, 2}, 0, 0, 31));         // data cut short
  expect_code(ErrorCode::truncated, with_tensor({4, 2}, 0, 1ull << 62, 32));
  GgufWriter dup;
  dup.add_tensor_info("t", {4}, 0, 0);
  dup.add_tensor_info("t", {4}, 0, 32);
  expect_code(ErrorCode::bad_model_file, dup.bytes() + std::string(64, '\0'));
}

TEST(Gguf, RejectsInconsistentModels) {
  const ModelConfig c = tiny_llama();
  const auto w = random_model(c, 3)->weights();
  const auto path = testing::scratch_path("model_ok.gguf");
  write_model_gguf(path, c, w, WriterType::f32);
  std::ifstream in(path, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  // Architecture, missing tensor, wrong shape.
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return s;
  };
  expect_code(ErrorCode::unsupported_architecture,
              replaced(pod(std::uint32_t{8}) + gstr("llama"), pod(std::uint32_t{8}) + gstr("mamba")), true);
  expect_code(ErrorCode::missing_tensor, replaced("blk.1.ffn_up.weight", "blk.1.ffn_XX.weight"), true);
  {
    GgufWriter g;
    g.add_string("general.architecture", "llama");
    expect_code(ErrorCode::bad_config, g.bytes(), true);
  }
  // attn_v declared with its dimensions swapped.
  {
    std::string s = good;
    const std::string name = gstr("blk.0.attn_v.weight") + pod(std::uint32_t{2});
    const auto at = s.find(name);
    ASSERT_NE(at, std::string::npos);
    const std::uint64_t swapped[2] = {c.kv_dim(), c.dim};
    std::memcpy(s.data() + at + name.size(), swapped, 16);
    expect_code(ErrorCode::tensor_shape_mismatch, s, true);
  }
  // Every truncation fails cleanly.
  for (std::size_t cut = 0; cut < good.size(); cut += (cut < 2048 ? 7 : 997)) {
    const auto p = testing::scratch_path("cut.gguf");
    write_bytes(p, good.substr(0, cut));
    EXPECT_THROW(load_gguf(p), Error) << "cut at " << cut;
  }
  // Random byte flips: an Error or a loaded model, never a crash.
  std::mt19937 rng(9);
  int rejected = 0;
  for (int i = 0; i < 150; ++i) {
    std::string s = good;
    for (int k = 0; k < 3; ++k) s[rng() % 1500] = static_cast<char>(rng());
    const auto p = testing::scratch_path("flip.gguf");
    write_bytes(p, s);
    try {
      load_gguf(p);
    } catch (const Error&) {
      ++rejected;
    }
  }
  std::printf("byte-flipped GGUF headers rejected: %d of 150\n", rejected);
}

}  // namespace
}  // namespace fhellm::model
