// Helpers shared by the tokenizer tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "fhellm/error.h"

namespace fhellm::tokenizer::testing {

inline std::filesystem::path shared_dir() { return FHELLM_SHARED_DIR; }
inline std::filesystem::path source_dir() { return FHELLM_SOURCE_DIR; }

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A scratch folder of this process under the build tree, removed at exit
// (ctest runs tests in parallel processes: each gets its own).
inline const std::filesystem::path& scratch_root() {
  struct Root {
    std::filesystem::path path = std::filesystem::path(FHELLM_BINARY_DIR) / "test_tmp" /
                                 ("tokenizer_" + std::to_string(::getpid()));
    Root() { std::filesystem::create_directories(path); }
    ~Root() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Root root;
  return root.path;
}

// A fresh empty directory for one test.
inline std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = scratch_root() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Texts that stress tokenizers: accents, CJK, emoji (4-byte, ZWJ), combining
// marks, whitespace runs, tabs and newlines, digits, contractions, code.
inline const std::vector<std::string>& awkward_texts() {
  static const std::vector<std::string> texts = {
      "",
      " ",
      "a",
      "Hello world",
      "  leading and trailing spaces   ",
      "tabs\tand\nnewlines\r\n\r\nend\n",
      "\n\n\n",
      "   \t  \n  x",
      "naïve café, crème brûlée, Ångström, São Paulo",
      "日本語のテキスト、中文文本。한국어 텍스트",
      "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇯🇵",
      "combining: e\xCC\x81 a\xCC\x8A n\xCC\x83",
      "numbers 1234567890 3.14159 1,000,000 ١٢٣",
      "I'm sure they'll say it's what we've done, ISN'T IT? We'D",
      "int main() { return a[i] + b->c; } // code\n\tif (x) {}",
      "punctuation!!! ??? ... --- *** ''' \"quoted\"",
      "Ελληνικά και русский текст",
      "<|endoftext|> <s> </s> [INST]",
      std::string("nul\0byte", 8),
      "mixed\u00a0nbsp\u2003emspace\u3000ideographic",
  };
  return texts;
}

// Random strings of ASCII, multi-byte characters and whitespace.
inline std::string random_text(std::mt19937& rng, std::size_t max_chars) {
  static const std::vector<std::string> alphabet = {
      "a", "b", "e", "t", "h", "o", "n", "s", " ", " ", " ", "  ", "\n", "\t", ".", ",", "'", "s", "1", "9", "0",
      "é", "ï", "中", "文", "😀", "\xF0\x9F\x91\x8D", "A", "Z", "!", "-", "\r\n", "ll", "re", "the", "The"};
  std::uniform_int_distribution<std::size_t> len(0, max_chars);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string s;
  const std::size_t n = len(rng);
  for (std::size_t i = 0; i < n; ++i) s += alphabet[pick(rng)];
  return s;
}

// Runs f and checks it throws fhellm::Error with the given code.
template <typename F>
void expect_error(ErrorCode code, F&& f) {
  try {
    f();
    ADD_FAILURE() << "expected Error(" << error_code_name(code) << "), nothing thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

}  // namespace fhellm::tokenizer::testing
