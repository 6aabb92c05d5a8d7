// Small UTF-8 helpers shared by the tokenizers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fhellm::tokenizer::detail {

// Code point value used for a byte that does not start a valid UTF-8
// sequence; the pre-tokenizers then treat that byte as one "other" character.
inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;

// Decodes the code point at text[pos]; sets `length` to its byte count (1 for
// an invalid byte, which decodes to kInvalidCodePoint). pos < text.size().
char32_t decode_utf8(std::string_view text, std::size_t pos, std::size_t& length) noexcept;

// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF).
void append_utf8(std::string& out, char32_t cp);

// Length of the longest prefix of `bytes` that does not end inside an
// incomplete (but so far valid) UTF-8 sequence.
std::size_t complete_utf8_prefix(std::string_view bytes) noexcept;

// Replaces every invalid UTF-8 sequence by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace fhellm::tokenizer::detail
