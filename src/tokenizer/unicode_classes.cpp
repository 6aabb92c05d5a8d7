#include <algorithm>

#include "tokenizer/unicode_tables.h"

namespace fhellm::tokenizer::detail {
namespace {

bool in_ranges(const CodePointRange* ranges, std::size_t count, char32_t cp) noexcept {
  const CodePointRange* end = ranges + count;
  // First range whose last >= cp.
  const CodePointRange* it =
      std::lower_bound(ranges, end, cp, [](const CodePointRange& r, char32_t v) { return r.last < v; });
  return it != end && it->first <= cp;
}

}  // namespace

bool is_letter(char32_t cp) noexcept {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(kLetterRanges, kLetterRangeCount, cp);
}

bool is_number(char32_t cp) noexcept {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(kNumberRanges, kNumberRangeCount, cp);
}

bool is_whitespace(char32_t cp) noexcept {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace fhellm::tokenizer::detail
