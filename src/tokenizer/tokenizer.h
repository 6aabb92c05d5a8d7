// Tokenizer: text <-> token ids, one interface for every format fhellm reads
// (llama2.c tokenizer.bin, SentencePiece .model, byte-level BPE from
// tokenizer.json or vocab.json + merges.txt).
//
// A Tokenizer is immutable after loading and safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/token_id.h"

namespace fhellm::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`; with add_bos, the beginning-of-sequence id first
  // (when the vocabulary has one).
  virtual std::vector<TokenId> encode(std::string_view text, bool add_bos) const = 0;

  // Bytes of one token as it appears in decoded text. For byte-level
  // vocabularies a token may hold part of a UTF-8 character: concatenate the
  // pieces of consecutive tokens (StreamDecoder does) before printing.
  // `previous` is the token before `id` (-1 at the start); SentencePiece-style
  // vocabularies drop the leading space after BOS.
  // @throws Error(unknown_token) when id is out of range.
  virtual std::string token_bytes(TokenId previous, TokenId id) const = 0;

  // Whole sequence to text (special tokens such as BOS/EOS are skipped).
  // @throws Error(unknown_token) when an id is out of range.
  virtual std::string decode(std::span<const TokenId> ids) const;

  // True for ids that decode() and StreamDecoder skip: BOS and EOS, plus
  // format-specific control tokens (SentencePiece control pieces, special
  // added tokens of tokenizer.json).
  virtual bool is_special(TokenId id) const { return id >= 0 && (id == bos_id() || id == eos_id()); }

  virtual TokenId bos_id() const = 0;  // -1 when there is none
  virtual TokenId eos_id() const = 0;  // -1 when there is none
  virtual std::size_t vocab_size() const = 0;
};

// Streams decoded text token by token, holding back an incomplete UTF-8
// sequence until the bytes that finish it arrive.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Text that can be printed now after `id` (valid UTF-8; special tokens
  // give nothing; bytes that can never form a character become U+FFFD).
  // @throws Error(unknown_token) when id is out of range.
  std::string push(TokenId id);
  // Whatever is still held back (invalid UTF-8 is emitted as U+FFFD).
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  TokenId previous_ = -1;
  std::string pending_;
};

// Loads a tokenizer, guessing the format from the path: a directory holding
// tokenizer.json, or vocab.json + merges.txt, or tokenizer.model; a file
// ending in .model (SentencePiece), .json (tokenizer.json) or .bin (llama2.c).
// `vocab_size_hint` (0 = none) lets llama2.c tokenizer.bin files, which do
// not record their size, be read with the model's vocabulary size.
// A tokenizer.json is byte-level BPE (GPT-2, Llama 3) or SentencePiece-style
// "▁" BPE (Hugging Face export of Llama 2, Mistral); in a directory, the
// latter is passed over for tokenizer.model when both are there.
// Files whose extension says nothing are recognised by their first bytes
// ('{' JSON, 0x0A a SentencePiece protobuf, otherwise tokenizer.bin).
// @throws Error(file_not_found, bad_tokenizer_file)
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path, std::size_t vocab_size_hint = 0);

}  // namespace fhellm::tokenizer
