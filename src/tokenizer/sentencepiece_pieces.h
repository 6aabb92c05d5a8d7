// Helpers for SentencePiece-style vocabularies (llama2.c tokenizer.bin,
// SentencePiece .model, Metaspace tokenizer.json): byte-fallback pieces
// "<0xHH>" and the U+2581 space mark. Internal to src/tokenizer.
#pragma once

#include <string>
#include <string_view>

namespace fhellm::tokenizer::detail {

inline constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Byte value of a "<0xHH>" piece, -1 for any other piece.
inline int byte_piece_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  const int hi = hex_digit_value(piece[3]);
  const int lo = hex_digit_value(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// "<0xHH>" for a byte, upper-case hex as SentencePiece writes it.
inline std::string byte_piece_name(unsigned byte) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string("<0x") + kDigits[(byte >> 4) & 15] + kDigits[byte & 15] + ">";
}

// Text of a piece: every space mark becomes a space, and the leading space of
// the first piece after BOS (the dummy prefix) is dropped.
inline std::string space_marked_piece_text(std::string_view piece, bool after_bos) {
  std::string text;
  text.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.substr(i, kSpaceMark.size()) == kSpaceMark) {
      text.push_back(' ');
      i += kSpaceMark.size();
    } else {
      text.push_back(piece[i++]);
    }
  }
  if (after_bos && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

}  // namespace fhellm::tokenizer::detail
