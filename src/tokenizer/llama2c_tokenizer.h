// The llama2.c tokenizer: a SentencePiece-BPE vocabulary with scores,
// encoded the way llama2.c's run.c encode() does, so that ids match it.
//
// tokenizer.bin layout (little-endian), as written by llama2.c tokenizer.py:
//   int32   max_token_length
//   repeat vocab_size times (the count is not stored: it is the model's
//   vocab_size, or what fits until the end of the file):
//     float32 score
//     int32   len            (0 <= len <= max_token_length)
//     len bytes piece        (UTF-8; "▁" already replaced by ' ';
//                             ids 3..258 are the byte pieces "<0x00>".."<0xFF>")
// Conventional ids: 0 <unk>, 1 <s> (BOS), 2 </s> (EOS).
//
// Encoding (run.c encode()): optional BOS; a dummy-prefix " " token when the
// text is not empty; each UTF-8 code point (at most 4 bytes) looked up as a
// piece, else its bytes as byte tokens; then repeatedly merge the adjacent
// pair whose concatenation is the piece with the highest score (leftmost on
// ties) until no pair is a piece.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fhellm::tokenizer {

class Llama2cTokenizer final : public Tokenizer {
 public:
  // pieces[i] and scores[i] describe token i (pieces with ' ' for spaces).
  // @throws Error(bad_tokenizer_file) when sizes differ or the list is empty.
  Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores, TokenId bos = 1, TokenId eos = 2);

  // Reads tokenizer.bin; vocab_size_hint > 0 reads exactly that many tokens.
  // @throws Error(file_not_found, bad_tokenizer_file)
  static std::unique_ptr<Llama2cTokenizer> load(const std::filesystem::path& path, std::size_t vocab_size_hint = 0);
  // Same from bytes already in memory; `name` is used in error messages.
  // @throws Error(bad_tokenizer_file)
  static std::unique_ptr<Llama2cTokenizer> parse(std::span<const std::uint8_t> bytes, std::size_t vocab_size_hint,
                                                 const std::string& name);

  std::vector<TokenId> encode(std::string_view text, bool add_bos) const override;
  std::string token_bytes(TokenId previous, TokenId id) const override;
  TokenId bos_id() const override { return bos_; }
  TokenId eos_id() const override { return eos_; }
  std::size_t vocab_size() const override { return pieces_.size(); }

  const std::string& piece(TokenId id) const;  // @throws Error(unknown_token)
  float score(TokenId id) const;               // @throws Error(unknown_token)

 private:
  TokenId lookup(std::string_view piece) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, TokenId> piece_to_id_;  // first id of each piece
  std::array<TokenId, 256> byte_id_{};                    // "<0xXX>" token of each byte, -1 if none
  TokenId bos_;
  TokenId eos_;
};

}  // namespace fhellm::tokenizer
