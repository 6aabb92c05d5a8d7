// SentencePiece .model files (a serialized ModelProto) through
// libsentencepiece. Decoding follows the same conventions as the llama2.c
// tokenizer: "▁" is a space, <0xXX> byte pieces are raw bytes, and the space
// that starts the first piece after BOS is dropped.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace fhellm::tokenizer {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // @throws Error(file_not_found, bad_tokenizer_file)
  static std::unique_ptr<SentencePieceTokenizer> load(const std::filesystem::path& path);
  // From the serialized model bytes. @throws Error(bad_tokenizer_file)
  static std::unique_ptr<SentencePieceTokenizer> parse(const std::string& serialized, const std::string& name);
  ~SentencePieceTokenizer() override;

  std::vector<TokenId> encode(std::string_view text, bool add_bos) const override;
  std::string token_bytes(TokenId previous, TokenId id) const override;
  bool is_special(TokenId id) const override;
  TokenId bos_id() const override { return bos_; }
  TokenId eos_id() const override { return eos_; }
  std::size_t vocab_size() const override { return vocab_size_; }

 private:
  SentencePieceTokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  TokenId bos_ = -1;
  TokenId eos_ = -1;
  std::size_t vocab_size_ = 0;
};

}  // namespace fhellm::tokenizer
