// The tokenizer embedded in a GGUF: tokenizer.ggml.* written by the test
// writer from real vocabularies give the same ids as the original files.
#include "hybrid/gguf_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fhellm/error.h"
#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/llama2c_tokenizer.h"
#include "model/gguf_writer.h"
#include "model/reference_util.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;
using model::testing::GgufWriter;

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(GgufTokenizer, LlamaVocabularyEncodesLikeTheLlama2cFile) {
  const auto bin = fs::path(FHELLM_SOURCE_DIR) / "models/tok512.bin";
  const auto original = tokenizer::Llama2cTokenizer::load(bin, 512);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (TokenId id = 0; id < 512; ++id) {
    std::string piece;
    for (char c : original->piece(id)) piece += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    tokens.push_back(id == 1 ? "<s>" : id == 2 ? "</s>" : piece);
    scores.push_back(original->score(id));
    types.push_back(id == 0 ? 2 : id <= 2 ? 3 : id < 259 ? 6 : 1);
  }
  GgufWriter g;
  g.add_string("general.architecture", "llama");
  g.add_string("tokenizer.ggml.model", "llama");
  g.add_strings("tokenizer.ggml.tokens", tokens);
  g.add_f32s("tokenizer.ggml.scores", scores);
  g.add_i32s("tokenizer.ggml.token_type", types);
  g.add_u32("tokenizer.ggml.bos_token_id", 1);
  g.add_u32("tokenizer.ggml.eos_token_id", 2);
  const auto path = model::testing::scratch_path("tok512_vocab.gguf");
  write_bytes(path, g.bytes());
  const auto t = load_gguf_tokenizer(path);
  EXPECT_EQ(t->vocab_size(), 512u);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  for (const std::string text : {"Once upon a time", "Lily and Ben", "", "naïve 😀 \t\n  x", "It's 12:30!"}) {
    const auto ids = t->encode(text, true);
    EXPECT_EQ(ids, original->encode(text, true)) << text;
    EXPECT_EQ(t->decode(ids), text);
  }
}

TEST(GgufTokenizerModel, Gpt2VocabularyEncodesLikeVocabMerges) {
  const auto dir = model::testing::shared_dir() / "models/gpt2-tokenizer";
  if (!fs::exists(dir)) GTEST_SKIP() << "needs ../shared: no " << dir;
  const auto original = tokenizer::ByteBpeTokenizer::load_vocab_merges(dir / "vocab.json", dir / "merges.txt");
  const auto vocab = model::testing::read_json(dir / "vocab.json");
  std::vector<std::string> tokens(vocab.size());
  for (const auto& [token, id] : vocab.items()) tokens[id.get<std::size_t>()] = token;
  std::vector<std::string> merges;
  std::ifstream in(dir / "merges.txt");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line))
    if (!line.empty()) merges.push_back(line);
  GgufWriter g;
  g.add_string("tokenizer.ggml.model", "gpt2");
  g.add_string("tokenizer.ggml.pre", "gpt-2");
  g.add_strings("tokenizer.ggml.tokens", tokens);
  g.add_strings("tokenizer.ggml.merges", merges);
  g.add_u32("tokenizer.ggml.eos_token_id", 50256);
  const auto path = model::testing::scratch_path("gpt2_vocab.gguf");
  write_bytes(path, g.bytes());
  const auto t = load_gguf_tokenizer(path);
  EXPECT_EQ(t->vocab_size(), 50257u);
  EXPECT_EQ(t->eos_id(), 50256);
  const auto vectors = model::testing::read_json(model::testing::shared_dir() / "reference/gpt2_tokenizer_vectors.json");
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(t->encode(text, false), c["ids"].get<std::vector<TokenId>>()) << text;
  }
}

TEST(GgufTokenizer, FileWithoutTokenizerIsAnError) {
  GgufWriter g;
  g.add_string("general.architecture", "llama");
  const auto path = model::testing::scratch_path("no_vocab.gguf");
  write_bytes(path, g.bytes());
  try {
    load_gguf_tokenizer(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_tokenizer_file) << e.what();
  }
  GgufWriter bad;
  bad.add_string("tokenizer.ggml.model", "llama");
  bad.add_strings("tokenizer.ggml.tokens", {"a", "b"});
  bad.add_f32s("tokenizer.ggml.scores", {0.0f});  // one score for two tokens
  write_bytes(path, bad.bytes());
  EXPECT_THROW(load_gguf_tokenizer(path), Error);
  // Arrays of the wrong element type.
  GgufWriter wrong;
  wrong.add_string("tokenizer.ggml.model", "llama");
  wrong.add_f32s("tokenizer.ggml.tokens", {1.0f, 2.0f});
  write_bytes(path, wrong.bytes());
  try {
    load_gguf_tokenizer(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_model_file) << e.what();
  }
  GgufWriter wrong_scores;
  wrong_scores.add_string("tokenizer.ggml.model", "llama");
  wrong_scores.add_strings("tokenizer.ggml.tokens", {"a"});
  wrong_scores.add_strings("tokenizer.ggml.scores", {"high"});
  write_bytes(path, wrong_scores.bytes());
  EXPECT_THROW(load_gguf_tokenizer(path), Error);
}

}  // namespace
}  // namespace fhellm::hybrid
