#include "tokenizer/ggml_vocab.h"

#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/llama2c_tokenizer.h"
#include "tokenizer/test_util.h"

namespace fhellm::tokenizer {
namespace {

using testing::expect_error;
using testing::shared_dir;

// The Llama 2 vocabulary as a GGUF carries it: "▁" for spaces, types.
GgmlVocab llama2_as_ggml(const Llama2cTokenizer& t) {
  GgmlVocab v;
  v.model = "llama";
  for (TokenId id = 0; id < static_cast<TokenId>(t.vocab_size()); ++id) {
    std::string piece;
    for (char c : t.piece(id)) piece += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    v.tokens.push_back(id == 1 ? "<s>" : id == 2 ? "</s>" : piece);
    v.scores.push_back(t.score(id));
    v.token_types.push_back(id == 0 ? 2 : id <= 2 ? 3 : id < 259 ? 6 : 1);
  }
  v.bos = 1;
  v.eos = 2;
  return v;
}

TEST(GgmlVocabModel, LlamaVocabularyReproducesVectors) {
  const auto bin = shared_dir() / "models/llama2-tokenizer/tokenizer.bin";
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << "needs ../shared: no " << bin;
  const auto t = tokenizer_from_ggml_vocab(llama2_as_ggml(*Llama2cTokenizer::load(bin, 32000)));
  const auto vectors = testing::read_json(shared_dir() / "reference/llama2_tokenizer_vectors.json");
  for (const auto& c : vectors["cases"]) {
    const auto expected = c["ids_with_bos"].get<std::vector<TokenId>>();
    EXPECT_EQ(t->encode(c["text"].get<std::string>(), true), expected);
    EXPECT_EQ(t->decode(expected), c["text"].get<std::string>());
  }
  // Control tokens are not matched in text.
  const auto ids = t->encode("<s>x</s>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 0);
}

TEST(GgmlVocabModel, Gpt2VocabularyReproducesVectors) {
  const auto dir = shared_dir() / "models/gpt2-tokenizer";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "needs ../shared: no " << dir;
  GgmlVocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  const auto vocab = testing::read_json(dir / "vocab.json");
  v.tokens.resize(vocab.size());
  for (const auto& [token, id] : vocab.items()) v.tokens[id.get<std::size_t>()] = token;
  v.token_types.assign(v.tokens.size(), 1);
  v.token_types[50256] = 3;
  std::ifstream in(dir / "merges.txt");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line))
    if (!line.empty()) v.merges.push_back(line);
  v.bos = v.eos = 50256;
  const auto t = tokenizer_from_ggml_vocab(v);
  const auto vectors = testing::read_json(shared_dir() / "reference/gpt2_tokenizer_vectors.json");
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    if (text == "<|endoftext|>") continue;  // a control token here, as in llama.cpp
    EXPECT_EQ(t->encode(text, false), c["ids"].get<std::vector<TokenId>>()) << text;
  }
  EXPECT_EQ(t->encode("<|endoftext|>", false), std::vector<TokenId>{50256});
  EXPECT_TRUE(t->is_special(50256));
  v.pre = "llama-bpe";
  EXPECT_EQ(dynamic_cast<const ByteBpeTokenizer&>(*tokenizer_from_ggml_vocab(v)).pre_tokenizer(),
            PreTokenizer::llama3);
}

TEST(GgmlVocab, RejectsInconsistentVocabularies) {
  GgmlVocab v;
  v.model = "llama";
  expect_error(ErrorCode::bad_tokenizer_file, [&] { tokenizer_from_ggml_vocab(v); });
  v.tokens = {"<unk>", "<s>", "</s>", "a"};
  v.scores = {0, 0};
  expect_error(ErrorCode::bad_tokenizer_file, [&] { tokenizer_from_ggml_vocab(v); });
  v.scores = {0, 0, 0, 0};
  v.token_types = {1};
  expect_error(ErrorCode::bad_tokenizer_file, [&] { tokenizer_from_ggml_vocab(v); });
  v.token_types.clear();
  EXPECT_EQ(tokenizer_from_ggml_vocab(v)->vocab_size(), 4u);
  v.model = "bert";
  expect_error(ErrorCode::bad_tokenizer_file, [&] { tokenizer_from_ggml_vocab(v); });
  v.model = "gpt2";  // no byte tokens
  expect_error(ErrorCode::bad_tokenizer_file, [&] { tokenizer_from_ggml_vocab(v); });
}

}  // namespace
}  // namespace fhellm::tokenizer
