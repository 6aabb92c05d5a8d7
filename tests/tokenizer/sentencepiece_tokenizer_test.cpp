#include "tokenizer/sentencepiece_tokenizer.h"

#include "tokenizer/llama2c_tokenizer.h"
#include "tokenizer/test_util.h"

namespace fhellm::tokenizer {
namespace {

using testing::expect_error;
using testing::shared_dir;

std::filesystem::path llama2_model() { return shared_dir() / "models/llama2-tokenizer/tokenizer.model"; }

TEST(SentencePieceTokenizerModel, MatchesLlama2cVectors) {
  if (!std::filesystem::exists(llama2_model())) GTEST_SKIP() << "needs ../shared: no " << llama2_model();
  const auto t = SentencePieceTokenizer::load(llama2_model());
  EXPECT_EQ(t->vocab_size(), 32000u);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  const auto vectors = testing::read_json(shared_dir() / "reference/llama2_tokenizer_vectors.json");
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids_with_bos"].get<std::vector<TokenId>>();
    EXPECT_EQ(t->encode(text, true), expected) << "text: " << text;
    EXPECT_EQ(t->decode(expected), text);
  }
}

TEST(SentencePieceTokenizerModel, AgreesWithLlama2cOnOrdinaryText) {
  const auto bin = shared_dir() / "models/llama2-tokenizer/tokenizer.bin";
  if (!std::filesystem::exists(llama2_model()) || !std::filesystem::exists(bin)) GTEST_SKIP() << "needs ../shared: no llama2 tokenizer in " << shared_dir();
  const auto sp = SentencePieceTokenizer::load(llama2_model());
  const auto l2 = Llama2cTokenizer::load(bin, 32000);
  // Single-spaced text, where SentencePiece's normalisation changes nothing.
  for (const std::string text : {"Lily and Ben went to the park.", "naïve café, crème brûlée", "日本語のテキスト 😀",
                                  "I'm sure they'll say it's fine.", "x = a[i] + 3.14;"}) {
    const auto ids = sp->encode(text, true);
    EXPECT_EQ(ids, l2->encode(text, true)) << text;
    EXPECT_EQ(sp->decode(ids), text);
    EXPECT_EQ(l2->decode(ids), text);
  }
}

TEST(SentencePieceTokenizerModel, TokenBytesAndSpecials) {
  if (!std::filesystem::exists(llama2_model())) GTEST_SKIP() << "needs ../shared: no " << llama2_model();
  const auto t = SentencePieceTokenizer::load(llama2_model());
  EXPECT_TRUE(t->is_special(1));
  EXPECT_TRUE(t->is_special(2));
  EXPECT_FALSE(t->is_special(15043));
  EXPECT_EQ(t->token_bytes(-1, 15043), " Hello");
  EXPECT_EQ(t->token_bytes(1, 15043), "Hello");
  EXPECT_EQ(t->token_bytes(-1, 3 + 0xF0), "\xF0");  // <0xF0>
  expect_error(ErrorCode::unknown_token, [&] { t->token_bytes(-1, 32000); });
}

TEST(SentencePieceTokenizer, RejectsHostileFiles) {
  expect_error(ErrorCode::file_not_found, [&] { SentencePieceTokenizer::load("/nonexistent/x.model"); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { SentencePieceTokenizer::parse("", "empty"); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { SentencePieceTokenizer::parse("not a protobuf at all", "junk"); });
  if (!std::filesystem::exists(llama2_model())) GTEST_SKIP() << "needs ../shared: no " << llama2_model();
  const std::string good = testing::read_file(llama2_model());
  for (std::size_t cut : {std::size_t{1}, std::size_t{7}, good.size() / 2, good.size() - 3}) {
    try {
      SentencePieceTokenizer::parse(good.substr(0, cut), "truncated");
      ADD_FAILURE() << "truncated model at " << cut << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::bad_tokenizer_file);
    }
  }
}

}  // namespace
}  // namespace fhellm::tokenizer
