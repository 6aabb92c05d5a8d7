// Unicode character classes needed by the byte-level BPE pre-tokenizers
// (\p{L}, \p{N}, \s), from generated range tables (unicode_tables.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fhellm::tokenizer::detail {

struct CodePointRange {
  char32_t first;
  char32_t last;  // inclusive
};

extern const CodePointRange kLetterRanges[];
extern const std::size_t kLetterRangeCount;
extern const CodePointRange kNumberRanges[];
extern const std::size_t kNumberRangeCount;

// General category L* (Lu, Ll, Lt, Lm, Lo).
bool is_letter(char32_t cp) noexcept;
// General category N* (Nd, Nl, No).
bool is_number(char32_t cp) noexcept;
// The Unicode White_Space property (what \s means in the `regex` module).
bool is_whitespace(char32_t cp) noexcept;

}  // namespace fhellm::tokenizer::detail
