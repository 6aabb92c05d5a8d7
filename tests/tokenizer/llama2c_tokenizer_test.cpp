#include "tokenizer/llama2c_tokenizer.h"

#include <cstring>

#include "test_data.h"
#include "tokenizer/test_util.h"

namespace fhellm::tokenizer {
namespace {

using testing::expect_error;
using testing::shared_dir;

std::filesystem::path llama2_bin() { return shared_dir() / "models/llama2-tokenizer/tokenizer.bin"; }
std::filesystem::path tok512_bin() { return testing::source_dir() / "models/tok512.bin"; }

// The quadratic merge loop of llama2.c run.c, written out plainly: the
// reference the heap-based encoder must agree with.
std::map<std::string, TokenId> piece_map(const Llama2cTokenizer& t) {
  std::map<std::string, TokenId> lookup;
  for (TokenId id = static_cast<TokenId>(t.vocab_size()) - 1; id >= 0; --id) lookup[t.piece(id)] = id;
  return lookup;
}

std::vector<TokenId> reference_encode(const Llama2cTokenizer& t, const std::map<std::string, TokenId>& lookup,
                                      const std::string& text, bool bos) {
  const auto find = [&](const std::string& s) {
    auto it = lookup.find(s);
    return it == lookup.end() ? -1 : it->second;
  };
  std::vector<TokenId> tokens;
  if (bos) tokens.push_back(1);
  if (!text.empty()) tokens.push_back(find(" "));
  std::string buf;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) buf.clear();
    buf.push_back(text[i]);
    if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80 && buf.size() < 4) continue;
    const TokenId id = find(buf);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (char b : buf) tokens.push_back(static_cast<unsigned char>(b) + 3);
    }
    buf.clear();
  }
  while (true) {
    float best = -1e10f;
    TokenId best_id = -1;
    std::size_t best_i = 0;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      const TokenId id = find(t.piece(tokens[i]) + t.piece(tokens[i + 1]));
      if (id >= 0 && t.score(id) > best) {
        best = t.score(id);
        best_id = id;
        best_i = i;
      }
    }
    if (best_id < 0) break;
    tokens[best_i] = best_id;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_i) + 1);
  }
  return tokens;
}

TEST(Llama2cTokenizerModel, ReproducesRunCVectors) {
  if (!std::filesystem::exists(llama2_bin())) GTEST_SKIP() << "needs ../shared: no " << llama2_bin();
  const auto t = Llama2cTokenizer::load(llama2_bin(), 32000);
  ASSERT_EQ(t->vocab_size(), 32000u);
  const auto vectors = testing::read_json(shared_dir() / "reference/llama2_tokenizer_vectors.json");
  ASSERT_GE(vectors["cases"].size(), 5u);
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids_with_bos"].get<std::vector<TokenId>>();
    EXPECT_EQ(t->encode(text, true), expected) << "text: " << text;
    // Without BOS: the same ids minus the first.
    EXPECT_EQ(t->encode(text, false), std::vector<TokenId>(expected.begin() + 1, expected.end()));
    EXPECT_EQ(t->decode(expected), text);
  }
}

TEST(Llama2cTokenizerModel, ReadsToEndOfFileWithoutHint) {
  if (!std::filesystem::exists(llama2_bin())) GTEST_SKIP() << "needs ../shared: no " << llama2_bin();
  EXPECT_EQ(Llama2cTokenizer::load(llama2_bin())->vocab_size(), 32000u);
  EXPECT_EQ(Llama2cTokenizer::load(tok512_bin())->vocab_size(), 512u);
}

TEST(Llama2cTokenizerModel, HeapMergesAgreeWithRunCLoop) {
  for (const auto& path : {tok512_bin(), llama2_bin()}) {
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "needs ../shared: no " << path;
    const auto t = Llama2cTokenizer::load(path);
    const auto lookup = piece_map(*t);
    for (const std::string& text : testing::awkward_texts()) {
      if (text.find('\0') != std::string::npos) continue;  // run.c stops at NUL
      EXPECT_EQ(t->encode(text, true), reference_encode(*t, lookup, text, true)) << path << " text: " << text;
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 60; ++i) {
      const std::string text = testing::random_text(rng, 40);
      EXPECT_EQ(t->encode(text, false), reference_encode(*t, lookup, text, false)) << path << " text: " << text;
    }
  }
}

TEST(Llama2cTokenizerModel, Tok512RoundTripsAwkwardText) {
  const auto t = Llama2cTokenizer::load(tok512_bin(), 512);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  // Every byte has a byte token, so any byte string survives encode/decode.
  for (const std::string& text : testing::awkward_texts()) {
    const auto ids = t->encode(text, true);
    for (TokenId id : ids) ASSERT_TRUE(id >= 0 && id < 512) << id;
    EXPECT_EQ(t->decode(ids), text);
  }
  const std::string raw("\xff\xfe\x80 bad \xc3", 9);
  EXPECT_EQ(t->decode(t->encode(raw, true)), raw);
  EXPECT_TRUE(t->encode("", false).empty());
  EXPECT_EQ(t->encode("", true), std::vector<TokenId>{1});
}

TEST(Llama2cTokenizerModel, Tok512KnownPieces) {
  const auto t = Llama2cTokenizer::load(tok512_bin(), 512);
  // The byte pieces sit at ids 3..258 and decode to raw bytes.
  EXPECT_EQ(t->piece(3), "<0x00>");
  EXPECT_EQ(t->piece(258), "<0xFF>");
  EXPECT_EQ(t->token_bytes(-1, 3 + 'A'), "A");
  // After BOS the leading space of a piece is dropped, elsewhere kept.
  const auto ids = t->encode("Once upon a time", true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(t->token_bytes(1, ids[1]).front(), 'O');
  EXPECT_EQ(t->token_bytes(-1, ids[1]).front(), ' ');
  expect_error(ErrorCode::unknown_token, [&] { t->token_bytes(-1, 512); });
  expect_error(ErrorCode::unknown_token, [&] { t->token_bytes(-1, -5); });
}

std::string tokenizer_bin(std::int32_t max_len, const std::vector<std::pair<float, std::string>>& tokens) {
  std::string out(4, '\0');
  std::memcpy(out.data(), &max_len, 4);
  for (const auto& [score, piece] : tokens) {
    char buf[8];
    const auto len = static_cast<std::int32_t>(piece.size());
    std::memcpy(buf, &score, 4);
    std::memcpy(buf + 4, &len, 4);
    out.append(buf, 8);
    out += piece;
  }
  return out;
}

std::unique_ptr<Llama2cTokenizer> parse(const std::string& bytes, std::size_t hint = 0) {
  return Llama2cTokenizer::parse(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), hint,
                                 "test");
}

TEST(Llama2cTokenizer, SmallVocabularyMergesByScore) {
  // 0..2 specials, then " ", "a", "b", "ab", " a", "ab " with scores that
  // make " a" lose against "ab".
  const std::string bin = tokenizer_bin(
      5, {{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {0, " "}, {0, "a"}, {0, "b"}, {5, "ab"}, {1, " a"}, {9, " ab"}});
  const auto t = parse(bin);
  ASSERT_EQ(t->vocab_size(), 9u);
  // " " "a" "b": best pair is "ab" (5) over " a" (1), then " " + "ab" = " ab".
  EXPECT_EQ(t->encode("ab", true), (std::vector<TokenId>{1, 8}));
  // Byte fallback is absent in this vocabulary: unknown characters vanish.
  EXPECT_EQ(t->encode("c", false), (std::vector<TokenId>{3}));
}

TEST(Llama2cTokenizer, RejectsHostileFiles) {
  const std::string good = tokenizer_bin(5, {{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {-1, "abcd"}});
  EXPECT_EQ(parse(good)->vocab_size(), 4u);
  // Every truncation fails cleanly, except those that end on a token boundary.
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    const std::string part = good.substr(0, cut);
    const bool boundary = cut == 4 + 8 + 5 || cut == 4 + 2 * 8 + 5 + 3 || cut == 4 + 3 * 8 + 5 + 3 + 4;
    if (boundary) {
      EXPECT_NO_THROW(parse(part)) << cut;
    } else {
      expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(part); });
    }
  }
  // With the model's vocabulary size: fewer or more tokens than the model
  // (another model's tokenizer) is a mismatch; a cut inside a token stays a bad file.
  expect_error(ErrorCode::tokenizer_mismatch, [&] { parse(good, 5); });
  expect_error(ErrorCode::tokenizer_mismatch, [&] { parse(good, 2); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(good.substr(0, good.size() - 1), 4); });
  EXPECT_EQ(parse(good, 4)->vocab_size(), 4u);
  // Absurd lengths.
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(tokenizer_bin(-1, {{0, "a"}})); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(tokenizer_bin(0x7fffffff, {{0, "a"}})); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(tokenizer_bin(2, {{0, "abc"}})); });
  std::string negative = tokenizer_bin(4, {{0, "ab"}});
  const std::int32_t minus = -7;
  std::memcpy(negative.data() + 8, &minus, 4);
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(negative); });
  std::string huge = tokenizer_bin(4, {{0, "ab"}});
  const std::int32_t big = 0x7ffffff0;
  std::memcpy(huge.data() + 8, &big, 4);
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(huge); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { parse(good, std::size_t{1} << 40); });
  // A NaN score must not break the merge order (it never merges).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto t = parse(tokenizer_bin(5, {{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {0, "a"}, {nan, "aa"}, {0, " "}}));
  EXPECT_EQ(t->encode("aa", false), (std::vector<TokenId>{5, 3, 3}));
  expect_error(ErrorCode::file_not_found, [&] { Llama2cTokenizer::load("/nonexistent/tokenizer.bin"); });
}

TEST(Llama2cTokenizer, RandomBytesNeverCrash) {
  std::mt19937 rng(11);
  const std::string good = testing::read_file(tok512_bin());
  for (int i = 0; i < 200; ++i) {
    std::string bytes = good;
    // Flip a few bytes near the start, where the lengths live.
    for (int k = 0; k < 4; ++k) bytes[rng() % 200] = static_cast<char>(rng());
    try {
      const auto t = parse(bytes);
      t->decode(t->encode("Once upon a time", true));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::bad_tokenizer_file);
    }
  }
}

}  // namespace
}  // namespace fhellm::tokenizer

namespace fhellm::tokenizer {
namespace {

TEST(Llama2cTokenizerModel, DecodesRunCGreedyStoriesToItsText) {
  const auto ref = testing::read_json(test_data::file("stories260K_runc_greedy.json"));
  const auto t = Llama2cTokenizer::load(tok512_bin(), 512);
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"];
    const auto prompt_ids = c["prompt_ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(t->encode(prompt, true), prompt_ids) << "prompt: " << prompt;
    std::vector<TokenId> all = prompt_ids;
    for (TokenId id : c["greedy_ids"].get<std::vector<TokenId>>()) all.push_back(id);
    const std::string key = prompt.empty() ? "expected_text_no_prompt"
                            : prompt == "Once upon a time" ? "expected_text_prompt_once_upon_a_time"
                                                           : "";
    if (key.empty() || !ref.contains(key)) continue;
    // run.c prints the prompt's pieces, each generated piece, then one
    // "\n" when generation ends; decode() gives the same text before it.
    EXPECT_EQ(t->decode(all) + "\n", ref[key].get<std::string>()) << "prompt: " << prompt;
    StreamDecoder stream(*t);
    std::string streamed;
    for (TokenId id : all) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed + "\n", ref[key].get<std::string>());
  }
}

}  // namespace
}  // namespace fhellm::tokenizer
