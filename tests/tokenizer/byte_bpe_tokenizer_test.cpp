#include "tokenizer/byte_bpe_tokenizer.h"

#include "tokenizer/pretokenizer.h"
#include "test_data.h"
#include "tokenizer/test_util.h"

namespace fhellm::tokenizer {
namespace {

using testing::expect_error;
using testing::shared_dir;
using Pieces = std::vector<std::string_view>;

std::filesystem::path gpt2_dir() { return shared_dir() / "models/gpt2-tokenizer"; }

const ByteBpeTokenizer& gpt2() {
  static const auto t = ByteBpeTokenizer::load_vocab_merges(gpt2_dir() / "vocab.json", gpt2_dir() / "merges.txt");
  return *t;
}

Pieces split(PreTokenizer kind, std::string_view text) { return detail::pre_tokenize(kind, text); }

TEST(PreTokenizer, Gpt2PatternSplits) {
  const auto k = PreTokenizer::gpt2;
  EXPECT_EQ(split(k, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split(k, "I'm can't they'll"), (Pieces{"I", "'m", " can", "'t", " they", "'ll"}));
  EXPECT_EQ(split(k, "CAN'T"), (Pieces{"CAN", "'", "T"}));  // contractions are case-sensitive
  EXPECT_EQ(split(k, "  x"), (Pieces{" ", " x"}));
  EXPECT_EQ(split(k, "a  \n\n b"), (Pieces{"a", "  \n\n", " b"}));
  EXPECT_EQ(split(k, "hello   "), (Pieces{"hello", "   "}));
  EXPECT_EQ(split(k, "x!!! y"), (Pieces{"x", "!!!", " y"}));
  EXPECT_EQ(split(k, "123abc 4567"), (Pieces{"123", "abc", " 4567"}));
  EXPECT_EQ(split(k, "a\tb"), (Pieces{"a", "\t", "b"}));
  EXPECT_EQ(split(k, " naïve café 😀"), (Pieces{" naïve", " café", " 😀"}));
  EXPECT_EQ(split(k, "日本語 テキスト"), (Pieces{"日本語", " テキスト"}));
  EXPECT_EQ(split(k, "\xff\xfe ok"), (Pieces{"\xff\xfe", " ok"}));  // invalid bytes are "other"
  EXPECT_TRUE(split(k, "").empty());
}

TEST(PreTokenizer, Llama3PatternSplits) {
  const auto k = PreTokenizer::llama3;
  EXPECT_EQ(split(k, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split(k, "CAN'T I'M"), (Pieces{"CAN", "'T", " I", "'M"}));
  EXPECT_EQ(split(k, "12345"), (Pieces{"123", "45"}));
  EXPECT_EQ(split(k, "(word"), (Pieces{"(word"}));
  EXPECT_EQ(split(k, "a\tb"), (Pieces{"a", "\tb"}));
  EXPECT_EQ(split(k, " \n\n  x"), (Pieces{" \n\n", " ", " x"}));
  EXPECT_EQ(split(k, "hello!\n\nworld"), (Pieces{"hello", "!\n\n", "world"}));
  EXPECT_EQ(split(k, "x = 3;\n"), (Pieces{"x", " =", " ", "3", ";\n"}));
}

TEST(PreTokenizer, PiecesCoverTheText) {
  std::mt19937 rng(3);
  for (auto kind : {PreTokenizer::gpt2, PreTokenizer::llama3}) {
    for (int i = 0; i < 200; ++i) {
      const std::string text = testing::random_text(rng, 30);
      std::string joined;
      for (auto p : split(kind, text)) {
        EXPECT_FALSE(p.empty());
        joined += p;
      }
      EXPECT_EQ(joined, text);
    }
  }
}

TEST(ByteBpeTokenizer, ByteToUnicodeIsGpt2s) {
  const auto& m = ByteBpeTokenizer::byte_to_unicode();
  EXPECT_EQ(m['!'], U'!');
  EXPECT_EQ(m[' '], U'\u0120');  // "Ġ"
  EXPECT_EQ(m['\n'], U'\u010A');  // "Ċ"
  EXPECT_EQ(m[0], U'\u0100');
  EXPECT_EQ(m[0xAD], U'\u0143');
  EXPECT_EQ(m[0xFF], U'\u00FF');
  std::set<char32_t> distinct(m.begin(), m.end());
  EXPECT_EQ(distinct.size(), 256u);
}

TEST(ByteBpeTokenizerModel, ReproducesGpt2Vectors) {
  if (!std::filesystem::exists(gpt2_dir())) GTEST_SKIP() << "needs ../shared: no " << gpt2_dir();
  const auto& t = gpt2();
  EXPECT_EQ(t.vocab_size(), 50257u);
  EXPECT_EQ(t.eos_id(), 50256);
  EXPECT_EQ(t.bos_id(), -1);  // GPT-2 prompts start without a BOS
  const auto vectors = testing::read_json(shared_dir() / "reference/gpt2_tokenizer_vectors.json");
  ASSERT_GE(vectors["cases"].size(), 6u);
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(t.encode(text, false), expected) << "text: " << text;
    EXPECT_EQ(t.encode(text, true), expected) << "no BOS to add";
    EXPECT_EQ(t.decode(expected), text);
  }
  // The prompts of the gpt2-vimdoc-small reference.
  const auto vim = testing::read_json(shared_dir() / "reference/gpt2-vimdoc-small_torch.json");
  for (const auto& c : vim["cases"])
    EXPECT_EQ(t.encode(c["prompt"].get<std::string>(), false), c["prompt_ids"].get<std::vector<TokenId>>());
}

TEST(ByteBpeTokenizerModel, Gpt2RoundTripsAwkwardText) {
  if (!std::filesystem::exists(gpt2_dir())) GTEST_SKIP() << "needs ../shared: no " << gpt2_dir();
  const auto& t = gpt2();
  std::vector<std::string> texts = testing::awkward_texts();
  texts.push_back(std::string("\xff\xfe\x80 raw \xc3 bytes \xe2\x82"));  // 18 bytes (a length of 20 read past it)
  texts.push_back(std::string(3000, ' ') + "x" + std::string(500, '\n'));
  texts.push_back(std::string(2000, 'a'));  // one long piece: the heap path
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) texts.push_back(testing::random_text(rng, 60));
  for (const std::string& text : texts) {
    const auto ids = t.encode(text, false);
    for (TokenId id : ids) ASSERT_TRUE(id >= 0 && id < 50257);
    // <|endoftext|> is EOS and skipped by decode: keep to texts without it.
    if (text.find("<|endoftext|>") == std::string::npos) {
      EXPECT_EQ(t.decode(ids), text);
    }
    std::string joined;
    for (TokenId id : ids) joined += t.token_bytes(-1, id);
    EXPECT_EQ(joined, text);
    // Re-encoding the decoded text gives the same ids (same text).
    EXPECT_EQ(t.encode(joined, false), ids);
  }
  EXPECT_TRUE(t.encode("", false).empty());
  // A cached piece gives the same ids as the first time.
  EXPECT_EQ(t.encode(" hello hello hello", false), (std::vector<TokenId>{23748, 23748, 23748}));
}

TEST(ByteBpeTokenizerModel, StreamDecoderHoldsBackPartialCharacters) {
  if (!std::filesystem::exists(gpt2_dir())) GTEST_SKIP() << "needs ../shared: no " << gpt2_dir();
  const auto& t = gpt2();
  // " 😀" is two tokens: " \xF0\x9F\x98" and "\x80".
  ASSERT_EQ(t.token_bytes(-1, 30325), " \xF0\x9F\x98");
  StreamDecoder s(t);
  EXPECT_EQ(s.push(30325), " ");
  EXPECT_EQ(s.push(222), "😀");
  EXPECT_EQ(s.flush(), "");
  // An unfinished character at the end comes out as U+FFFD.
  StreamDecoder s2(t);
  EXPECT_EQ(s2.push(30325), " ");
  EXPECT_EQ(s2.flush(), "\xEF\xBF\xBD");
  // A character cut short by another token becomes U+FFFD, the rest flows.
  StreamDecoder s3(t);
  s3.push(30325);
  EXPECT_EQ(s3.push(15496), "\xEF\xBF\xBDHello");
  // The whole awkward corpus streams to the same text as decode().
  for (const std::string& text : testing::awkward_texts()) {
    if (text.find("<|endoftext|>") != std::string::npos) continue;
    StreamDecoder d(t);
    std::string streamed;
    for (TokenId id : t.encode(text, false)) streamed += d.push(id);
    streamed += d.flush();
    EXPECT_EQ(streamed, text);
  }
  EXPECT_EQ(StreamDecoder(t).push(50256), "");  // EOS prints nothing
  expect_error(ErrorCode::unknown_token, [&] { StreamDecoder(t).push(50257); });
}

// Writes a tokenizer.json built from GPT-2's vocab.json + merges.txt.
void write_gpt2_tokenizer_json(const std::filesystem::path& path, bool merges_as_pairs) {
  nlohmann::json vocab = testing::read_json(gpt2_dir() / "vocab.json");
  nlohmann::json merges = nlohmann::json::array();
  std::ifstream in(gpt2_dir() / "merges.txt");
  std::string line;
  std::getline(in, line);  // #version
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto space = line.find(' ');
    if (merges_as_pairs) {
      merges.push_back({line.substr(0, space), line.substr(space + 1)});
    } else {
      merges.push_back(line);
    }
  }
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
  };
  testing::write_file(path, j.dump());
}

TEST(ByteBpeTokenizerModel, Gpt2TokenizerJsonMatchesVocabMerges) {
  if (!std::filesystem::exists(gpt2_dir())) GTEST_SKIP() << "needs ../shared: no " << gpt2_dir();
  const auto dir = testing::temp_dir("gpt2_json");
  for (bool pairs : {false, true}) {
    write_gpt2_tokenizer_json(dir / "tokenizer.json", pairs);
    const auto t = load_tokenizer(dir);
    EXPECT_EQ(t->vocab_size(), 50257u);
    EXPECT_EQ(t->eos_id(), 50256);
    const auto vectors = testing::read_json(shared_dir() / "reference/gpt2_tokenizer_vectors.json");
    for (const auto& c : vectors["cases"]) {
      const std::string text = c["text"];
      if (text == "<|endoftext|>") {
        // tokenizer.json added tokens are matched in text, as Hugging Face does.
        EXPECT_EQ(t->encode(text, false), std::vector<TokenId>{50256});
      } else {
        EXPECT_EQ(t->encode(text, false), c["ids"].get<std::vector<TokenId>>()) << text;
      }
    }
    EXPECT_EQ(t->encode("a<|endoftext|>b", false), (std::vector<TokenId>{64, 50256, 65}));
    EXPECT_EQ(t->decode(std::vector<TokenId>{64, 50256, 65}), "ab");
  }
}

TEST(LoadTokenizerModel, DetectsEachFormat) {
  const auto models = shared_dir() / "models";
  if (!std::filesystem::exists(models)) GTEST_SKIP() << "needs ../shared: no " << models;
  EXPECT_NE(dynamic_cast<ByteBpeTokenizer*>(load_tokenizer(models / "gpt2-tokenizer").get()), nullptr);
  EXPECT_NE(dynamic_cast<ByteBpeTokenizer*>(load_tokenizer(models / "gpt2-tokenizer/vocab.json").get()), nullptr);
  EXPECT_NE(dynamic_cast<ByteBpeTokenizer*>(load_tokenizer(models / "gpt2-vimdoc-small").get()), nullptr);
  const auto l2 = load_tokenizer(models / "llama2-tokenizer");  // has both: .model is preferred
  EXPECT_EQ(l2->vocab_size(), 32000u);
  EXPECT_EQ(load_tokenizer(models / "llama2-tokenizer/tokenizer.bin", 32000)->vocab_size(), 32000u);
  EXPECT_EQ(load_tokenizer(models / "stories260K/tok512.bin", 512)->vocab_size(), 512u);
  // Extension-less copies are recognised by their first bytes.
  const auto dir = testing::temp_dir("sniff");
  std::filesystem::copy_file(models / "llama2-tokenizer/tokenizer.model", dir / "sp");
  std::filesystem::copy_file(models / "stories260K/tok512.bin", dir / "l2c");
  EXPECT_EQ(load_tokenizer(dir / "sp")->encode("Hello world", true), (std::vector<TokenId>{1, 15043, 3186}));
  EXPECT_EQ(load_tokenizer(dir / "l2c")->vocab_size(), 512u);
  expect_error(ErrorCode::file_not_found, [&] { load_tokenizer(dir / "missing"); });
  expect_error(ErrorCode::file_not_found, [&] { load_tokenizer(testing::temp_dir("empty_dir")); });
}

// A tiny byte-level tokenizer.json: the 256 byte tokens, a few merges, and
// the options under test.
nlohmann::json tiny_tokenizer_json(const std::string& pattern) {
  const auto& map = ByteBpeTokenizer::byte_to_unicode();
  nlohmann::json vocab = nlohmann::json::object();
  const auto mapped = [&](std::string_view raw) {
    std::string s;
    for (unsigned char c : raw) {
      const char32_t cp = map[c];
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
    return s;
  };
  for (int b = 0; b < 256; ++b) vocab[mapped(std::string(1, static_cast<char>(b)))] = b;
  vocab["34"] = 256;
  vocab["12"] = 257;
  vocab["123"] = 258;
  vocab[mapped(" a")] = 259;
  nlohmann::json j = {
      {"added_tokens",
       {{{"id", 300}, {"content", "<|begin_of_text|>"}, {"special", true}},
        {{"id", 301}, {"content", "<|end_of_text|>"}, {"special", true}},
        {{"id", 302}, {"content", "<tool>"}, {"special", false}}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors",
         {{{"type", "ByteLevel"}},
          {{"type", "TemplateProcessing"},
           {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"3 4", "1 2", "12 3", mapped(" ") + " a"}}}},
  };
  return j;
}

const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

TEST(ByteBpeTokenizer, TokenizerJsonLlama3Options) {
  const auto dir = testing::temp_dir("llama3_json");
  testing::write_file(dir / "tokenizer.json", tiny_tokenizer_json(kLlama3Pattern).dump());
  testing::write_file(dir / "tokenizer_config.json", R"({"eos_token": {"content": "<|end_of_text|>"}})");
  const auto t = ByteBpeTokenizer::load_tokenizer_json(dir / "tokenizer.json");
  EXPECT_EQ(t->pre_tokenizer(), PreTokenizer::llama3);
  EXPECT_EQ(t->bos_id(), 300);
  EXPECT_EQ(t->eos_id(), 301);
  EXPECT_EQ(t->vocab_size(), 303u);
  // "1234" splits as "123" + "4" under Llama 3; merges 12 then 123.
  EXPECT_EQ(t->encode("1234", true), (std::vector<TokenId>{300, 258, '4'}));
  // Added tokens are cut out of the text; special ones vanish in decode.
  EXPECT_EQ(t->encode("<|begin_of_text|> a<tool>", false), (std::vector<TokenId>{300, 259, 302}));
  EXPECT_EQ(t->decode(std::vector<TokenId>{300, 259, 302, 301}), " a<tool>");
  EXPECT_TRUE(t->is_special(300));
  EXPECT_FALSE(t->is_special(302));
  // Unused ids between the vocabulary and the added tokens decode to nothing.
  EXPECT_EQ(t->token_bytes(-1, 280), "");

  // The same vocabulary with GPT-2's pattern: "1234" is one piece, and the
  // lowest-rank merge "3 4" goes first.
  testing::write_file(dir / "tokenizer.json", tiny_tokenizer_json(kGpt2Pattern).dump());
  const auto g = ByteBpeTokenizer::load_tokenizer_json(dir / "tokenizer.json");
  EXPECT_EQ(g->pre_tokenizer(), PreTokenizer::gpt2);
  EXPECT_EQ(g->encode("1234", false), (std::vector<TokenId>{257, 256}));
}

TEST(ByteBpeTokenizer, RejectsHostileFiles) {
  const auto dir = testing::temp_dir("hostile_json");
  const auto path = dir / "tokenizer.json";
  const auto load = [&](const std::string& text) {
    testing::write_file(path, text);
    return ByteBpeTokenizer::load_tokenizer_json(path);
  };
  const auto bad = [&](const std::string& text) {
    expect_error(ErrorCode::bad_tokenizer_file, [&] { load(text); });
  };
  nlohmann::json good = tiny_tokenizer_json(kLlama3Pattern);
  EXPECT_NO_THROW(load(good.dump()));
  bad("");
  bad("{");
  bad("[1, 2, 3]");
  bad(good.dump().substr(0, good.dump().size() / 2));
  auto j = good;
  j["model"]["type"] = "WordPiece";
  bad(j.dump());
  j = good;
  j["model"]["vocab"]["zz"] = -4;
  bad(j.dump());
  j = good;
  j["model"]["vocab"]["zz"] = 1ll << 40;
  bad(j.dump());
  j = good;
  j["model"]["vocab"]["zz"] = "seven";
  bad(j.dump());
  j = good;
  j["model"]["merges"].push_back("nospace");
  bad(j.dump());
  j = good;
  j["model"]["merges"].push_back(42);
  bad(j.dump());
  j = good;
  j["model"]["vocab"].erase("A");  // a byte without its token
  bad(j.dump());
  j = good;
  j["added_tokens"][0]["id"] = 1ll << 31;
  bad(j.dump());
  j = good;
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  bad(j.dump());
  j = good;
  j["pre_tokenizer"] = nullptr;
  j["decoder"] = {{"type", "Metaspace"}};
  bad(j.dump());
  j = good;
  j.erase("model");
  bad(j.dump());
  // vocab.json + merges.txt.
  testing::write_file(dir / "vocab.json", "{\"a\": 0}");
  testing::write_file(dir / "merges.txt", "#version: 0.2\na b\n");
  expect_error(ErrorCode::bad_tokenizer_file,
               [&] { ByteBpeTokenizer::load_vocab_merges(dir / "vocab.json", dir / "merges.txt"); });
  expect_error(ErrorCode::file_not_found,
               [&] { ByteBpeTokenizer::load_vocab_merges(dir / "nothere.json", dir / "merges.txt"); });
}

}  // namespace
}  // namespace fhellm::tokenizer

#include <thread>

namespace fhellm::tokenizer {
namespace {

TEST(ByteBpeTokenizerModel, ConcurrentEncodesAgree) {
  if (!std::filesystem::exists(gpt2_dir())) GTEST_SKIP() << "needs ../shared: no " << gpt2_dir();
  const auto t = ByteBpeTokenizer::load_vocab_merges(gpt2_dir() / "vocab.json", gpt2_dir() / "merges.txt");
  std::vector<std::string> texts;
  std::mt19937 rng(17);
  for (int i = 0; i < 200; ++i) texts.push_back(testing::random_text(rng, 50));
  std::vector<std::vector<TokenId>> expected;
  {
    const auto fresh = ByteBpeTokenizer::load_vocab_merges(gpt2_dir() / "vocab.json", gpt2_dir() / "merges.txt");
    for (const auto& s : texts) expected.push_back(fresh->encode(s, false));
  }
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::size_t j = (i * 7 + static_cast<std::size_t>(k) * 13) % texts.size();
        if (t->encode(texts[j], false) != expected[j]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace fhellm::tokenizer

namespace fhellm::tokenizer {
namespace {

// Splits computed by Python's backtracking regex engine with the same
// patterns (src/tokenizer/tools/gen_pretokenizer_vectors.py).
TEST(PreTokenizer, MatchesARegexEngineOnRandomStrings) {
  const auto vectors = testing::read_json(testing::source_dir() / "tests/tokenizer/data/pretokenizer_vectors.json");
  ASSERT_GE(vectors["cases"].size(), 400u);
  int checked = 0;
  for (const auto& c : vectors["cases"]) {
    const std::string text = c["text"];
    for (auto [kind, key] : {std::pair{PreTokenizer::gpt2, "gpt2"}, std::pair{PreTokenizer::llama3, "llama3"}}) {
      std::vector<std::string> got;
      for (auto p : detail::pre_tokenize(kind, text)) got.emplace_back(p);
      EXPECT_EQ(got, c[key].get<std::vector<std::string>>()) << key << " text: " << text;
      ++checked;
    }
  }
  EXPECT_GE(checked, 800);
}

}  // namespace
}  // namespace fhellm::tokenizer

namespace fhellm::tokenizer {
namespace {

// The evaluation texts of the perplexity checks survive encode/decode with
// the tokenizers the models use.
TEST(LoadTokenizerModel, EvalTextsRoundTrip) {
  const auto tok512 = load_tokenizer(test_data::bundled_tokenizer(), 512);
  const std::string story = testing::read_file(test_data::file("eval_story.txt"));
  ASSERT_FALSE(story.empty());
  EXPECT_EQ(tok512->decode(tok512->encode(story, true)), story);
  if (!std::filesystem::exists(gpt2_dir())) GTEST_SKIP() << "needs ../shared: no " << gpt2_dir();
  const std::string vim = testing::read_file(shared_dir() / "reference/eval_vimdoc.txt");
  ASSERT_FALSE(vim.empty());
  const auto ids = gpt2().encode(vim, false);
  EXPECT_EQ(gpt2().decode(ids), vim);
  EXPECT_LT(ids.size(), vim.size() / 2);  // BPE compresses English text
}

}  // namespace
}  // namespace fhellm::tokenizer
