// The few Unicode facts the Jinja engine needs: UTF-8 <-> code points,
// Python's str.isspace, and case mapping for Latin (ASCII, Latin-1,
// Latin Extended-A), Greek and Cyrillic letters; other scripts keep their
// case (see docs/chat.md).
#pragma once

#include <string>
#include <string_view>

namespace fhellm::chat::jinja {

// Invalid UTF-8 bytes decode to U+FFFD (they never come from a JSON string).
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);
std::size_t utf8_length(std::string_view s);

// Python's str.isspace for one code point.
bool is_space(char32_t c);
// Python's str.strip() (chars empty: whitespace), on code points.
std::string strip(std::string_view s, std::string_view chars, bool left, bool right, bool chars_given);

// One code point's upper or lower case (itself when it has none).
char32_t upper_of(char32_t c);
char32_t lower_of(char32_t c);
bool is_cased(char32_t c);
// Python's str.upper() / str.lower() on the scripts above ("ß" -> "SS").
std::u32string to_upper(std::u32string_view s);
std::u32string to_lower(std::u32string_view s);

}  // namespace fhellm::chat::jinja
