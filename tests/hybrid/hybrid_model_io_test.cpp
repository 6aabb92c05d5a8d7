// load_tokenizer_for: where the CLI finds a model's tokenizer when --tokenizer
// is not given.
#include "hybrid/hybrid_model_io.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "fhellm/error.h"
#include "model/loader.h"
#include "tokenizer/llama2c_tokenizer.h"
#include "hybrid/artifact.h"
#include "tokenizer/ggml_vocab.h"
#include "model/gguf_model_writer.h"
#include "model/gguf_writer.h"

namespace fhellm::hybrid {
namespace {

namespace fs = std::filesystem;

TEST(LoadTokenizerFor, GgufModelUsesItsEmbeddedVocabulary) {
  const auto bin = fs::path(FHELLM_SOURCE_DIR) / "models/tok512.bin";
  const auto model = model::load_model(fs::path(FHELLM_SOURCE_DIR) / "models/stories260K.bin");
  const auto original = tokenizer::Llama2cTokenizer::load(bin, 512);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  for (TokenId id = 0; id < 512; ++id) {
    std::string piece;
    for (char c : original->piece(id)) piece += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    tokens.push_back(id == 1 ? "<s>" : id == 2 ? "</s>" : piece);
    scores.push_back(original->score(id));
  }
  model::testing::GgufWriter g;
  g.add_string("general.architecture", "llama");
  g.add_string("tokenizer.ggml.model", "llama");
  g.add_strings("tokenizer.ggml.tokens", tokens);
  g.add_f32s("tokenizer.ggml.scores", scores);
  g.add_u32("tokenizer.ggml.bos_token_id", 1);
  g.add_u32("tokenizer.ggml.eos_token_id", 2);
  // A folder with no tokenizer file beside the .gguf: the vocabulary can only come from the file itself.
  const fs::path dir = fs::temp_directory_path() / ("fhellm_io_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / "vocab_only.gguf";
  {
    std::ofstream out(path, std::ios::binary);
    const std::string bytes = g.bytes();
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto tok = load_tokenizer_for({}, path, *model);
  fs::remove_all(dir);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 512u);
  EXPECT_EQ(tok->encode("Once upon a time", true), original->encode("Once upon a time", true));
}

TEST(LoadTokenizerFor, MissingTokenizerNamesWhatWasTried) {
  const auto model = model::load_model(fs::path(FHELLM_SOURCE_DIR) / "models/stories260K.bin");
  const fs::path dir = fs::temp_directory_path() / ("fhellm_io_test_empty_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  try {
    load_tokenizer_for({}, dir / "model.bin", *model);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::file_not_found);
    EXPECT_NE(std::string(e.what()).find("tokenizer.bin"), std::string::npos);
  }
  fs::remove_all(dir);
}

// tok512.bin's vocabulary as ggml fields (what a GGUF of stories260K embeds).
tokenizer::GgmlVocab tok512_vocab() {
  const auto original = tokenizer::Llama2cTokenizer::load(fs::path(FHELLM_SOURCE_DIR) / "models/tok512.bin", 512);
  tokenizer::GgmlVocab v;
  v.model = "llama";
  for (TokenId id = 0; id < 512; ++id) {
    std::string piece;
    for (char c : original->piece(id)) piece += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    v.tokens.push_back(id == 1 ? "<s>" : id == 2 ? "</s>" : piece);
    v.scores.push_back(original->score(id));
    v.token_types.push_back(id == 0 ? 2 : id <= 2 ? 3 : id < 259 ? 6 : 1);
  }
  v.bos = 1;
  v.eos = 2;
  return v;
}

void expect_mismatch(const tokenizer::GgmlVocab& v, const model::Model& m, const std::string& needle) {
  try {
    check_tokenizer_matches(*tokenizer::tokenizer_from_ggml_vocab(v), m, "test");
    ADD_FAILURE() << "accepted; expected " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::tokenizer_mismatch) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CheckTokenizerMatches, SizesSpecialIdsAndARoundTrip) {
  const auto model = model::load_model(fs::path(FHELLM_SOURCE_DIR) / "models/stories260K.bin");
  const tokenizer::GgmlVocab good = tok512_vocab();
  EXPECT_NO_THROW(check_tokenizer_matches(*tokenizer::tokenizer_from_ggml_vocab(good), *model, "tok512"));
  tokenizer::GgmlVocab larger = good;  // an id the model cannot embed
  larger.tokens.push_back("extra");
  larger.scores.push_back(0);
  larger.token_types.push_back(1);
  expect_mismatch(larger, *model, "has 513 tokens, the model 512");
  tokenizer::GgmlVocab smaller = good;  // far fewer tokens than the model: another model's
  smaller.tokens.resize(300);
  smaller.scores.resize(300);
  smaller.token_types.resize(300);
  expect_mismatch(smaller, *model, "has 300 tokens");
  tokenizer::GgmlVocab bos = good;
  bos.bos = 3;
  expect_mismatch(bos, *model, "BOS is id 3, the model's is 1");
  tokenizer::GgmlVocab lossy = good;  // no byte fallback, no 'W': text does not come back
  for (std::size_t i = 3; i < 259; ++i) lossy.token_types[i] = 5;
  for (auto& t : lossy.tokens)
    if (t.find('w') != std::string::npos || t.find('W') != std::string::npos) t = "\x01unused" + t;
  expect_mismatch(lossy, *model, "does not give back the text");
}

// Before: compile looked for tokenizer files next to a .gguf and, finding
// none, refused; now the artifact carries the GGUF's own vocabulary.
TEST(CompileArtifacts, GgufModelCarriesItsEmbeddedTokenizer) {
  const auto from_bin = model::load_model(fs::path(FHELLM_SOURCE_DIR) / "models/stories260K.bin");
  const fs::path dir = fs::temp_directory_path() / ("fhellm_gguf_compile_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const tokenizer::GgmlVocab v = tok512_vocab();
  model::testing::write_model_gguf(dir / "stories.gguf", from_bin->config(), from_bin->weights(),
                                   model::testing::WriterType::f32, false, [&](model::testing::GgufWriter& g) {
                                     g.add_string("tokenizer.ggml.model", "llama");
                                     g.add_strings("tokenizer.ggml.tokens", v.tokens);
                                     g.add_f32s("tokenizer.ggml.scores", v.scores);
                                     g.add_i32s("tokenizer.ggml.token_type", v.token_types);
                                     g.add_u32("tokenizer.ggml.bos_token_id", 1);
                                     g.add_u32("tokenizer.ggml.eos_token_id", 2);
                                   });
  compile_artifacts(dir / "stories.gguf", dir / "out", {});
  const ClientArtifact client = load_client_artifact(dir / "out.client");
  const auto original = tokenizer::Llama2cTokenizer::load(fs::path(FHELLM_SOURCE_DIR) / "models/tok512.bin", 512);
  for (const std::string text : {"Once upon a time", "Lily and Ben went to the park.", "naïve 😀"})
    EXPECT_EQ(client.tokenizer->encode(text, true), original->encode(text, true)) << text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fhellm::hybrid
