#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace fhellm::tokenizer::detail {
namespace {

struct Char {
  char32_t cp;
  std::size_t offset;  // byte offset in the text
};

bool is_newline(char32_t c) { return c == '\r' || c == '\n'; }
bool is_other(char32_t c) { return !is_whitespace(c) && !is_letter(c) && !is_number(c); }

char32_t lower_ascii(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length in characters of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
std::size_t match_contraction(const std::vector<Char>& t, std::size_t i, bool ignore_case) {
  const std::size_t n = t.size();
  if (t[i].cp != '\'' || i + 1 >= n) return 0;
  auto at = [&](std::size_t k) { return ignore_case ? lower_ascii(t[k].cp) : t[k].cp; };
  const char32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < n) {
    const char32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

// End (exclusive) of the run of characters from i satisfying pred.
template <typename Pred>
std::size_t run_end(const std::vector<Char>& t, std::size_t i, Pred pred) {
  while (i < t.size() && pred(t[i].cp)) ++i;
  return i;
}

// \s+(?!\S) then \s+ : a whitespace run, leaving its last character to the
// next piece when a non-space follows and the run is longer than one.
std::size_t match_whitespace(const std::vector<Char>& t, std::size_t i) {
  const std::size_t e = run_end(t, i, is_whitespace);
  if (e == t.size() || e - i == 1) return e - i;
  return e - 1 - i;
}

std::size_t match_gpt2(const std::vector<Char>& t, std::size_t i) {
  const std::size_t n = t.size();
  if (std::size_t len = match_contraction(t, i, false)) return len;
  const std::size_t j = (t[i].cp == ' ' && i + 1 < n) ? i + 1 : i;
  if (is_letter(t[j].cp)) return run_end(t, j, is_letter) - i;
  if (is_number(t[j].cp)) return run_end(t, j, is_number) - i;
  if (is_other(t[j].cp)) return run_end(t, j, is_other) - i;
  // Here t[i] is whitespace (a lone ' ' before whitespace, or another space).
  return match_whitespace(t, i);
}

std::size_t match_llama3(const std::vector<Char>& t, std::size_t i) {
  const std::size_t n = t.size();
  if (std::size_t len = match_contraction(t, i, true)) return len;
  const char32_t c = t[i].cp;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!is_newline(c) && !is_letter(c) && !is_number(c) && i + 1 < n && is_letter(t[i + 1].cp))
    return run_end(t, i + 1, is_letter) - i;
  if (is_letter(c)) return run_end(t, i, is_letter) - i;
  // \p{N}{1,3}
  if (is_number(c)) {
    std::size_t e = i;
    while (e < n && e - i < 3 && is_number(t[e].cp)) ++e;
    return e - i;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const std::size_t j = (c == ' ' && i + 1 < n) ? i + 1 : i;
  if (is_other(t[j].cp)) {
    const std::size_t e = run_end(t, j, is_other);
    return run_end(t, e, is_newline) - i;
  }
  // \s*[\r\n]+ : up to and including the last newline of the whitespace run.
  const std::size_t e = run_end(t, i, is_whitespace);
  for (std::size_t k = e; k > i; --k)
    if (is_newline(t[k - 1].cp)) return k - i;
  return match_whitespace(t, i);
}

}  // namespace

std::vector<std::string_view> pre_tokenize(PreTokenizer kind, std::string_view text) {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t len;
    chars.push_back({decode_utf8(text, pos, len), pos});
    pos += len;
  }
  std::vector<std::string_view> pieces;
  const std::size_t n = chars.size();
  for (std::size_t i = 0; i < n;) {
    std::size_t len = kind == PreTokenizer::llama3 ? match_llama3(chars, i) : match_gpt2(chars, i);
    if (len == 0) len = 1;  // cannot happen: every character is L, N, \s or other
    const std::size_t begin = chars[i].offset;
    const std::size_t end = i + len < n ? chars[i + len].offset : text.size();
    pieces.push_back(text.substr(begin, end - begin));
    i += len;
  }
  return pieces;
}

}  // namespace fhellm::tokenizer::detail
