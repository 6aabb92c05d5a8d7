// Byte-level BPE (GPT-2, Llama 3): text is split by a pre-tokenizer regex,
// each piece's UTF-8 bytes start as one token per byte, and merges are
// applied lowest rank first (leftmost on ties) until none applies.
//
// Files read:
//   vocab.json   {"token": id, ...}; tokens written in GPT-2's byte-to-unicode
//                alphabet (bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF stand for
//                themselves, the other 68 bytes for U+0100.. in byte order;
//                "Ġ" is the space byte).
//   merges.txt   optional "#version" line, then one merge "left right" per
//                line, rank = line order.
//   tokenizer.json (Hugging Face): model {type "BPE", vocab, merges (either
//                "a b" strings or ["a","b"] pairs)}, added_tokens [{id,
//                content, special}], pre_tokenizer (ByteLevel, or a Split with
//                Llama 3's pattern then ByteLevel), post_processor (a
//                TemplateProcessing whose first special token is the BOS).
//   tokenizer_config.json next to tokenizer.json, when present: eos_token.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fhellm::tokenizer {

// Which split pattern runs before BPE (see src/tokenizer/pretokenizer.h).
enum class PreTokenizer : std::uint8_t {
  gpt2 = 0,    // 's|'t|... ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  llama3 = 1,  // case-insensitive contractions, \p{N}{1,3}, newline runs
};

// A token matched verbatim in the text before pre-tokenization
// (tokenizer.json added_tokens).
struct AddedToken {
  TokenId id = -1;
  std::string content;   // raw UTF-8 text, not in the byte-to-unicode alphabet
  bool special = false;  // skipped by decode()
};

// Everything a byte-level BPE vocabulary is made of, in the form found in
// files (vocab.json, tokenizer.json, GGUF tokenizer.ggml.* of model "gpt2").
struct ByteBpeVocab {
  std::vector<std::string> tokens;  // id -> token in the byte-to-unicode alphabet; "" = unused id
  std::vector<std::pair<std::string, std::string>> merges;  // rank order, same alphabet
  std::vector<AddedToken> added_tokens;
  PreTokenizer pre_tokenizer = PreTokenizer::gpt2;
  bool add_prefix_space = false;  // ByteLevel option: a space before the text
  TokenId bos = -1;
  TokenId eos = -1;
};

class ByteBpeTokenizer final : public Tokenizer {
 public:
  // @throws Error(bad_tokenizer_file) when the vocabulary is inconsistent
  // (no token for some byte, an added token id out of range, ...).
  explicit ByteBpeTokenizer(const ByteBpeVocab& vocab);

  // @throws Error(file_not_found, bad_tokenizer_file)
  static std::unique_ptr<ByteBpeTokenizer> load_vocab_merges(const std::filesystem::path& vocab_json,
                                                             const std::filesystem::path& merges_txt);
  // @throws Error(file_not_found, bad_tokenizer_file)
  static std::unique_ptr<ByteBpeTokenizer> load_tokenizer_json(const std::filesystem::path& path);

  std::vector<TokenId> encode(std::string_view text, bool add_bos) const override;
  std::string token_bytes(TokenId previous, TokenId id) const override;
  bool is_special(TokenId id) const override;
  TokenId bos_id() const override { return bos_; }
  TokenId eos_id() const override { return eos_; }
  std::size_t vocab_size() const override { return id_to_bytes_.size(); }

  PreTokenizer pre_tokenizer() const { return pre_tokenizer_; }
  // Id of a token given by its raw bytes, -1 when absent.
  TokenId find(std::string_view raw_bytes) const;

  // GPT-2's bytes_to_unicode(): the code point standing for each byte.
  static const std::array<char32_t, 256>& byte_to_unicode();

 private:
  struct Merge {
    std::uint32_t rank;
    TokenId merged;
  };
  void encode_ordinary(std::string_view text, std::vector<TokenId>& out) const;
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;
  std::vector<TokenId> bpe(std::string_view piece) const;

  std::vector<std::string> id_to_bytes_;
  std::vector<std::uint8_t> special_;  // per id
  std::unordered_map<std::string, TokenId> bytes_to_id_;
  std::array<TokenId, 256> byte_id_{};
  std::unordered_map<std::uint64_t, Merge> merges_;  // (left << 32 | right) -> merge
  std::vector<AddedToken> added_tokens_;             // longest content first
  PreTokenizer pre_tokenizer_ = PreTokenizer::gpt2;
  bool add_prefix_space_ = false;
  TokenId bos_ = -1;
  TokenId eos_ = -1;

  // Piece -> ids cache; bounded, cleared when full.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace fhellm::tokenizer
