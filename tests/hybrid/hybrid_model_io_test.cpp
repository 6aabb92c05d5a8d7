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

}  // namespace
}  // namespace fhellm::hybrid
