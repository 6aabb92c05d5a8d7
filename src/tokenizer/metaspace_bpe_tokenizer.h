// SentencePiece-style BPE stored as a Hugging Face tokenizer.json (the "fast"
// export of Llama 2, Mistral, TinyLlama...): spaces become "▁" (U+2581), a
// "▁" is prepended to the text, the text's characters start as one token each
// (or, with byte_fallback, as their "<0xXX>" byte tokens when the character
// is not in the vocabulary), and merges apply lowest rank first, leftmost on
// ties.
//
// tokenizer.json fields read: model {type "BPE", vocab, merges,
// byte_fallback, unk_token}; normalizer (Prepend "▁" and Replace " " -> "▁")
// or pre_tokenizer Metaspace {replacement, prepend_scheme / add_prefix_space,
// split}; added_tokens; post_processor TemplateProcessing (BOS).
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace fhellm::tokenizer {

struct MetaspaceBpeVocab {
  std::vector<std::string> tokens;  // id -> piece with "▁" for spaces; "" = unused id
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
  std::vector<AddedToken> added_tokens;
  bool prepend_space = true;   // a "▁" before the text
  bool split_words = false;    // Metaspace split: each "▁word" is encoded on its own
  bool byte_fallback = true;   // unknown characters as <0xXX> tokens
  TokenId unk = -1;
  TokenId bos = -1;
  TokenId eos = -1;
};

class MetaspaceBpeTokenizer final : public Tokenizer {
 public:
  // @throws Error(bad_tokenizer_file)
  explicit MetaspaceBpeTokenizer(const MetaspaceBpeVocab& vocab);
  // @throws Error(file_not_found, bad_tokenizer_file)
  static std::unique_ptr<MetaspaceBpeTokenizer> load_tokenizer_json(const std::filesystem::path& path);

  std::vector<TokenId> encode(std::string_view text, bool add_bos) const override;
  std::string token_bytes(TokenId previous, TokenId id) const override;
  bool is_special(TokenId id) const override;
  TokenId bos_id() const override { return bos_; }
  TokenId eos_id() const override { return eos_; }
  std::size_t vocab_size() const override { return pieces_.size(); }

 private:
  struct Merge {
    std::uint32_t rank;
    TokenId merged;
  };
  void encode_ordinary(std::string_view text, std::vector<TokenId>& out) const;
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  std::vector<std::string> pieces_;   // as in the file ("▁")
  std::vector<std::uint8_t> special_;
  std::unordered_map<std::string, TokenId> piece_to_id_;
  std::array<TokenId, 256> byte_id_{};
  std::unordered_map<std::uint64_t, Merge> merges_;
  std::vector<AddedToken> added_tokens_;  // longest first
  bool prepend_space_ = true;
  bool split_words_ = false;
  bool byte_fallback_ = true;
  TokenId unk_ = -1;
  TokenId bos_ = -1;
  TokenId eos_ = -1;
};

}  // namespace fhellm::tokenizer
