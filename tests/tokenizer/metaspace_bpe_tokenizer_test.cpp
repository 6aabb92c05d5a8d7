#include "tokenizer/metaspace_bpe_tokenizer.h"

#include <algorithm>

#include "tokenizer/llama2c_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/test_util.h"
#include "tokenizer/utf8.h"

namespace fhellm::tokenizer {
namespace {

using testing::expect_error;
using testing::shared_dir;

const std::string kMark = "\xE2\x96\x81";

// A tokenizer.json in the form Hugging Face's converter gives a SentencePiece
// BPE model, built from the Llama 2 tokenizer.bin: "▁" pieces, merges = every
// split of a piece into two pieces, ordered by the piece's score.
nlohmann::json llama2_tokenizer_json() {
  const auto t = Llama2cTokenizer::load(shared_dir() / "models/llama2-tokenizer/tokenizer.bin", 32000);
  std::vector<std::string> pieces(t->vocab_size());
  std::map<std::string, TokenId> ids;
  for (TokenId id = 0; id < static_cast<TokenId>(t->vocab_size()); ++id) {
    std::string p;
    for (char c : t->piece(id)) p += c == ' ' ? kMark : std::string(1, c);
    pieces[static_cast<std::size_t>(id)] = id == 0 ? "<unk>" : id == 1 ? "<s>" : id == 2 ? "</s>" : p;
    ids.emplace(pieces[static_cast<std::size_t>(id)], id);
  }
  struct M {
    float score;
    TokenId left, right;
    std::string a, b;
  };
  std::vector<M> merges;
  for (TokenId id = 259; id < static_cast<TokenId>(t->vocab_size()); ++id) {
    const std::string& p = pieces[static_cast<std::size_t>(id)];
    for (std::size_t pos = 0; pos < p.size();) {
      std::size_t len;
      detail::decode_utf8(p, pos, len);
      pos += len;
      if (pos >= p.size()) break;
      const auto l = ids.find(p.substr(0, pos)), r = ids.find(p.substr(pos));
      if (l != ids.end() && r != ids.end() && l->second >= 259 - 256 && r->second >= 3)
        merges.push_back({t->score(id), l->second, r->second, l->first, r->first});
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [](const M& x, const M& y) {
    if (x.score != y.score) return x.score > y.score;
    return std::tie(x.left, x.right) < std::tie(y.left, y.right);
  });
  nlohmann::json vocab = nlohmann::json::object(), jm = nlohmann::json::array();
  for (std::size_t id = 0; id < pieces.size(); ++id) vocab[pieces[id]] = id;
  for (const M& m : merges) jm.push_back({m.a, m.b});
  return {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kMark}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMark}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}}}}},
      {"model",
       {{"type", "BPE"}, {"byte_fallback", true}, {"unk_token", "<unk>"}, {"vocab", vocab}, {"merges", jm}}},
  };
}

TEST(MetaspaceBpeTokenizerModel, Llama2TokenizerJsonReproducesVectors) {
  const auto bin = shared_dir() / "models/llama2-tokenizer/tokenizer.bin";
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << "needs ../shared: no " << bin;
  const auto dir = testing::temp_dir("llama2_hf_json");
  testing::write_file(dir / "tokenizer.json", llama2_tokenizer_json().dump());
  const auto t = load_tokenizer(dir);  // no tokenizer.model here: the JSON is used
  ASSERT_NE(dynamic_cast<MetaspaceBpeTokenizer*>(t.get()), nullptr);
  EXPECT_EQ(t->vocab_size(), 32000u);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  const auto vectors = testing::read_json(shared_dir() / "reference/llama2_tokenizer_vectors.json");
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids_with_bos"].get<std::vector<TokenId>>();
    EXPECT_EQ(t->encode(text, true), expected) << text;
    EXPECT_EQ(t->decode(expected), text);
  }
  // Agreement with libsentencepiece on ordinary and awkward text (print the
  // share; SentencePiece and its HF export are known to differ on rare ties).
  const auto sp_path = shared_dir() / "models/llama2-tokenizer/tokenizer.model";
  const auto sp = SentencePieceTokenizer::load(sp_path);
  int agree = 0, total = 0;
  std::mt19937 rng(21);
  std::vector<std::string> texts = testing::awkward_texts();
  for (int i = 0; i < 100; ++i) texts.push_back(testing::random_text(rng, 40));
  for (const std::string& text : texts) {
    if (text.find('\0') != std::string::npos || text.find("<s>") != std::string::npos) continue;
    ++total;
    const auto ids = t->encode(text, true);
    if (ids == sp->encode(text, true)) ++agree;
    EXPECT_EQ(t->decode(ids), text);  // byte fallback: everything round-trips
  }
  std::printf("HF-style Llama 2 tokenizer.json vs libsentencepiece: %d of %d texts identical\n", agree, total);
  EXPECT_GE(agree * 10, total * 9);
  // Added tokens are matched in text and skipped by decode.
  EXPECT_EQ(t->encode("<s>Hi", false).front(), 1);
  EXPECT_EQ(t->decode(t->encode("a</s>b", false)), " ab");
}

TEST(MetaspaceBpeTokenizer, MetaspaceSplitAndRejections) {
  // Tiny vocabulary: ▁, a, b, ▁a, ab, ▁ab, byte tokens for "c".
  nlohmann::json j = {
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", kMark}, {"prepend_scheme", "first"}, {"split", true}}},
      {"model",
       {{"type", "BPE"},
        {"byte_fallback", true},
        {"vocab", {{kMark, 0}, {"a", 1}, {"b", 2}, {kMark + "a", 3}, {"ab", 4}, {kMark + "ab", 5}, {"<0x63>", 6}}},
        {"merges", {"a b", kMark + " ab", kMark + " a"}}}},
  };
  const auto dir = testing::temp_dir("metaspace_tiny");
  testing::write_file(dir / "tokenizer.json", j.dump());
  const auto t = MetaspaceBpeTokenizer::load_tokenizer_json(dir / "tokenizer.json");
  // "ab ab": words "▁ab" and "▁ab": a+b first (rank 0), then ▁+ab (rank 1).
  EXPECT_EQ(t->encode("ab ab", false), (std::vector<TokenId>{5, 5}));
  // Unknown "c" falls back to its byte token; "d" has none and no unk: dropped.
  EXPECT_EQ(t->encode("cd", false), (std::vector<TokenId>{0, 6}));
  EXPECT_EQ(t->decode(std::vector<TokenId>{5, 6}), " abc");
  expect_error(ErrorCode::unknown_token, [&] { t->token_bytes(-1, 7); });
  // Not "▁" BPE at all.
  j["pre_tokenizer"] = nullptr;
  testing::write_file(dir / "tokenizer.json", j.dump());
  expect_error(ErrorCode::bad_tokenizer_file, [&] { MetaspaceBpeTokenizer::load_tokenizer_json(dir / "tokenizer.json"); });
  expect_error(ErrorCode::bad_tokenizer_file, [&] { load_tokenizer(dir / "tokenizer.json"); });
}

}  // namespace
}  // namespace fhellm::tokenizer
