#include "tokenizer/llama2c_tokenizer.h"

#include <cstring>

#include "fhellm/error.h"
#include "tokenizer/bpe_merge.h"
#include "tokenizer/file_util.h"
#include "tokenizer/sentencepiece_pieces.h"

namespace fhellm::tokenizer {
namespace {

// Sane maxima for a tokenizer.bin: pieces are short, vocabularies well under
// a few million entries.
constexpr std::int32_t kMaxTokenLength = 1 << 16;
constexpr std::size_t kMaxVocabSize = std::size_t{1} << 22;

// run.c only merges a pair whose score beats its initial best of -1e10.
constexpr float kNoMergeScore = -1e10f;

using detail::byte_piece_name;
using detail::byte_piece_value;

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores, TokenId bos,
                                   TokenId eos)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), bos_(bos), eos_(eos) {
  require(!pieces_.empty(), ErrorCode::bad_tokenizer_file, "llama2.c vocabulary is empty");
  require(pieces_.size() == scores_.size(), ErrorCode::bad_tokenizer_file,
          "llama2.c vocabulary has " + std::to_string(pieces_.size()) + " pieces but " +
              std::to_string(scores_.size()) + " scores");
  require(pieces_.size() <= kMaxVocabSize, ErrorCode::bad_tokenizer_file,
          "llama2.c vocabulary of " + std::to_string(pieces_.size()) + " pieces is too large");
  const auto n = static_cast<TokenId>(pieces_.size());
  if (bos_ >= n) bos_ = -1;
  if (eos_ >= n) eos_ = -1;
  piece_to_id_.reserve(pieces_.size());
  for (TokenId id = 0; id < n; ++id) piece_to_id_.emplace(pieces_[static_cast<std::size_t>(id)], id);
  for (unsigned b = 0; b < 256; ++b) {
    // run.c uses id byte + 3; prefer that slot when it holds the byte's piece,
    // else find the piece by name (vocabularies with another layout).
    const std::size_t slot = b + 3;
    if (slot < pieces_.size() && byte_piece_value(pieces_[slot]) == static_cast<int>(b)) {
      byte_id_[b] = static_cast<TokenId>(slot);
    } else {
      byte_id_[b] = lookup(byte_piece_name(b));
    }
  }
}

std::unique_ptr<Llama2cTokenizer> Llama2cTokenizer::load(const std::filesystem::path& path,
                                                         std::size_t vocab_size_hint) {
  const std::string bytes = detail::read_whole_file(path);
  return parse(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), vocab_size_hint,
               path.string());
}

std::unique_ptr<Llama2cTokenizer> Llama2cTokenizer::parse(std::span<const std::uint8_t> bytes,
                                                          std::size_t vocab_size_hint, const std::string& name) {
  std::size_t pos = 0;
  const auto read_i32 = [&](const char* what, std::size_t index) {
    require(bytes.size() - pos >= 4, ErrorCode::bad_tokenizer_file,
            "tokenizer '" + name + "': truncated at byte " + std::to_string(pos) + " reading the " + what +
                " of token " + std::to_string(index));
    std::int32_t v;
    std::memcpy(&v, bytes.data() + pos, 4);
    pos += 4;
    return v;
  };
  require(bytes.size() >= 4, ErrorCode::bad_tokenizer_file,
          "tokenizer '" + name + "': " + std::to_string(bytes.size()) + " bytes, too short for a header");
  const std::int32_t max_token_length = read_i32("header", 0);
  require(max_token_length > 0 && max_token_length <= kMaxTokenLength, ErrorCode::bad_tokenizer_file,
          "tokenizer '" + name + "': max_token_length " + std::to_string(max_token_length) + " is not in [1, " +
              std::to_string(kMaxTokenLength) + "]");
  require(vocab_size_hint <= kMaxVocabSize, ErrorCode::bad_tokenizer_file,
          "tokenizer '" + name + "': vocabulary size " + std::to_string(vocab_size_hint) + " is too large");

  std::vector<std::string> pieces;
  std::vector<float> scores;
  const std::size_t wanted = vocab_size_hint;
  while (wanted ? pieces.size() < wanted : pos < bytes.size()) {
    const std::size_t index = pieces.size();
    require(index < kMaxVocabSize, ErrorCode::bad_tokenizer_file,
            "tokenizer '" + name + "': more than " + std::to_string(kMaxVocabSize) + " tokens");
    require(!(wanted && pos == bytes.size()), ErrorCode::tokenizer_mismatch,
            "tokenizer '" + name + "' holds " + std::to_string(index) + " tokens, the model " + std::to_string(wanted) +
                ": it belongs to another model");
    float score;
    require(bytes.size() - pos >= 8, ErrorCode::bad_tokenizer_file,
            "tokenizer '" + name + "': truncated at byte " + std::to_string(pos) + " in token " +
                std::to_string(index) + (wanted ? " of " + std::to_string(wanted) : std::string()));
    std::memcpy(&score, bytes.data() + pos, 4);
    pos += 4;
    const std::int32_t len = read_i32("length", index);
    require(len >= 0 && len <= max_token_length, ErrorCode::bad_tokenizer_file,
            "tokenizer '" + name + "': token " + std::to_string(index) + " has length " + std::to_string(len) +
                ", outside [0, max_token_length " + std::to_string(max_token_length) + "]");
    require(bytes.size() - pos >= static_cast<std::size_t>(len), ErrorCode::bad_tokenizer_file,
            "tokenizer '" + name + "': token " + std::to_string(index) + " needs " + std::to_string(len) +
                " bytes, only " + std::to_string(bytes.size() - pos) + " left");
    pieces.emplace_back(reinterpret_cast<const char*>(bytes.data() + pos), static_cast<std::size_t>(len));
    scores.push_back(score);
    pos += static_cast<std::size_t>(len);
  }
  require(!pieces.empty(), ErrorCode::bad_tokenizer_file, "tokenizer '" + name + "' holds no token");
  // tokenizer.bin records no size: bytes left after the model's vocabulary
  // mean a larger vocabulary, another model's.
  require(pos == bytes.size(), ErrorCode::tokenizer_mismatch,
          "tokenizer '" + name + "' holds more tokens than the model's " + std::to_string(wanted) + " (" +
              std::to_string(bytes.size() - pos) + " bytes left after token " + std::to_string(wanted - 1) +
              "): it belongs to another model");
  return std::make_unique<Llama2cTokenizer>(std::move(pieces), std::move(scores));
}

TokenId Llama2cTokenizer::lookup(std::string_view piece) const {
  const auto it = piece_to_id_.find(std::string(piece));
  return it == piece_to_id_.end() ? -1 : it->second;
}

const std::string& Llama2cTokenizer::piece(TokenId id) const {
  require(id >= 0 && static_cast<std::size_t>(id) < pieces_.size(), ErrorCode::unknown_token,
          "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(pieces_.size()));
  return pieces_[static_cast<std::size_t>(id)];
}

float Llama2cTokenizer::score(TokenId id) const {
  piece(id);  // range check
  return scores_[static_cast<std::size_t>(id)];
}

std::vector<TokenId> Llama2cTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<TokenId> tokens;
  tokens.reserve(text.size() + 3);
  if (add_bos && bos_ >= 0) tokens.push_back(bos_);
  const std::size_t first = tokens.size();
  if (!text.empty()) {
    const TokenId space = lookup(" ");
    if (space >= 0) tokens.push_back(space);
  }

  // Code points (up to 4 bytes, as run.c groups them) to pieces or bytes.
  std::string buffer;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) buffer.clear();
    buffer.push_back(static_cast<char>(c));
    const bool next_continues = i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
    if (next_continues && buffer.size() < 4) continue;
    const TokenId id = lookup(buffer);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (char b : buffer) {
        const TokenId byte_token = byte_id_[static_cast<unsigned char>(b)];
        if (byte_token >= 0) tokens.push_back(byte_token);
      }
    }
    buffer.clear();
  }

  // Greedy merges, best score first, leftmost on ties: the same choices as
  // run.c's quadratic scan.
  const std::size_t n = tokens.size() - first;
  if (n < 2) return tokens;
  const std::vector<TokenId> symbols(tokens.begin() + static_cast<std::ptrdiff_t>(first), tokens.end());
  tokens.resize(first);
  std::string pair;
  detail::merge_bpe<std::greater<>>(
      symbols,
      [&](TokenId a, TokenId b) -> std::optional<detail::MergeChoice<float>> {
        pair.assign(pieces_[static_cast<std::size_t>(a)]);
        pair += pieces_[static_cast<std::size_t>(b)];
        const TokenId merged = lookup(pair);
        if (merged < 0) return std::nullopt;
        const float s = scores_[static_cast<std::size_t>(merged)];
        if (!(s > kNoMergeScore)) return std::nullopt;  // also drops NaN
        return detail::MergeChoice<float>{s, merged};
      },
      tokens);
  return tokens;
}

std::string Llama2cTokenizer::token_bytes(TokenId previous, TokenId id) const {
  std::string_view p = piece(id);
  if (previous >= 0 && previous == bos_ && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  const int byte = byte_piece_value(p);
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return std::string(p);
}

}  // namespace fhellm::tokenizer
