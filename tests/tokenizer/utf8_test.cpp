#include "tokenizer/utf8.h"

#include "tokenizer/test_util.h"
#include "tokenizer/unicode_tables.h"

namespace fhellm::tokenizer::detail {
namespace {

TEST(Utf8, DecodesAndRejects) {
  std::size_t len;
  EXPECT_EQ(decode_utf8("A", 0, len), U'A');
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(decode_utf8("é", 0, len), U'é');
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(decode_utf8("😀", 0, len), U'😀');
  EXPECT_EQ(len, 4u);
  for (const char* bad : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xF0\x9F\x98", "\xFF"}) {
    EXPECT_EQ(decode_utf8(bad, 0, len), kInvalidCodePoint) << bad;
    EXPECT_EQ(len, 1u);
  }
}

TEST(Utf8, CompletePrefixHoldsBackUnfinishedCharacters) {
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F\x98\x80"), 6u);
  EXPECT_EQ(complete_utf8_prefix("ab\xC3"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\x80\x80\x80\x80"), 6u);  // stray continuations: nothing to wait for
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
}

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  EXPECT_EQ(sanitize_utf8("ok é"), "ok é");
  EXPECT_EQ(sanitize_utf8("a\xF0\x9F\x98z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(sanitize_utf8("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xE0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong lead, then a stray byte
}

TEST(UnicodeClasses, KnownCharacters) {
  EXPECT_TRUE(is_letter(U'a'));
  EXPECT_TRUE(is_letter(U'é'));
  EXPECT_TRUE(is_letter(U'中'));
  EXPECT_TRUE(is_letter(U'ß'));
  EXPECT_FALSE(is_letter(U'1'));
  EXPECT_FALSE(is_letter(U'😀'));
  EXPECT_FALSE(is_letter(0x0301));  // combining acute: Mn, not L
  EXPECT_TRUE(is_number(U'7'));
  EXPECT_TRUE(is_number(U'١'));  // Arabic-Indic digit one
  EXPECT_TRUE(is_number(U'Ⅻ'));  // Nl
  EXPECT_TRUE(is_number(U'½'));   // No
  EXPECT_FALSE(is_number(U'a'));
  EXPECT_TRUE(is_whitespace(U' '));
  EXPECT_TRUE(is_whitespace(U'\u3000'));
  EXPECT_TRUE(is_whitespace(U'\u00A0'));
  EXPECT_FALSE(is_whitespace(U'\u200B'));  // zero-width space is not White_Space
  EXPECT_FALSE(is_letter(kInvalidCodePoint));
  EXPECT_FALSE(is_number(kInvalidCodePoint));
}

}  // namespace
}  // namespace fhellm::tokenizer::detail
