#include "chat/jinja_lexer.h"

#include <array>
#include <cctype>

#include "chat/jinja_unicode.h"
#include "fhellm/error.h"

namespace fhellm::chat::jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& what) {
  throw Error(ErrorCode::bad_chat_template, "chat template line " + std::to_string(line) + ": " + what);
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// jinja2 joins the source's lines with "\n" (str.splitlines separators) and,
// without keep_trailing_newline, drops one final newline.
std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      out.push_back('\n');
    } else if (c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E) {
      out.push_back('\n');
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      out.push_back('\n');
      ++i;
    } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out.push_back('\n');
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_data_and_tag();
    tokens_.push_back({Token::Type::eof, "", line_});
    return std::move(tokens_);
  }

 private:
  // Text up to the next tag, then the tag. jinja2's root rule.
  void lex_data_and_tag() {
    std::size_t at = pos_;
    char kind = 0;
    while ((at = src_.find('{', at)) != std::string::npos) {
      if (at + 1 < src_.size() && (src_[at + 1] == '{' || src_[at + 1] == '%' || src_[at + 1] == '#')) {
        kind = src_[at + 1];
        break;
      }
      ++at;
    }
    const std::size_t data_end = at == std::string::npos ? src_.size() : at;
    std::string data = src_.substr(pos_, data_end - pos_);
    const int data_line = line_;
    for (std::size_t i = pos_; i < data_end; ++i) line_ += src_[i] == '\n';
    if (at == std::string::npos) {
      emit_data(std::move(data), data_line);
      pos_ = src_.size();
      return;
    }
    const char sign = at + 2 < src_.size() && (src_[at + 2] == '-' || src_[at + 2] == '+') ? src_[at + 2] : 0;
    if (sign == '-') {
      std::size_t keep = data.size();
      while (keep > 0 && is_ws(data[keep - 1])) --keep;
      data.resize(keep);
    } else if (sign != '+' && kind != '{') {
      lstrip_block(data);
    }
    emit_data(std::move(data), data_line);
    pos_ = at + 2 + (sign ? 1 : 0);
    if (kind == '#') {
      lex_comment();
    } else {
      lex_tag(kind == '{');
    }
  }

  // lstrip_blocks: whitespace between the line's start and a block tag goes.
  void lstrip_block(std::string& data) const {
    const std::size_t nl = data.rfind('\n');
    const std::size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting_) return;
    if (l_pos == data.size()) return;
    for (std::size_t i = l_pos; i < data.size(); ++i)
      if (!is_ws(data[i])) return;
    data.resize(l_pos);
  }

  void emit_data(std::string data, int line) {
    if (!data.empty()) tokens_.push_back({Token::Type::data, std::move(data), line});
  }

  // After a tag's end: `-` eats all whitespace, trim_blocks one newline.
  void after_tag_end(char sign, bool is_block) {
    if (sign == '-') {
      while (pos_ < src_.size() && is_ws(src_[pos_])) advance();
    } else if (sign != '+' && is_block && pos_ < src_.size() && src_[pos_] == '\n') {
      advance();
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  void lex_comment() {
    const int line = line_;
    const std::size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail(line, "unterminated comment");
    const char sign = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    while (pos_ < end + 2) advance();
    after_tag_end(sign, true);
  }

  void lex_tag(bool is_variable) {
    const int line = line_;
    tokens_.push_back({is_variable ? Token::Type::variable_begin : Token::Type::block_begin, "", line});
    const std::string close = is_variable ? "}}" : "%}";
    int depth = 0;  // brackets open: a `}}` inside them is two braces, as in jinja2
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) advance();
      if (pos_ >= src_.size()) fail(line, std::string("unterminated ") + (is_variable ? "{{" : "{%"));
      if (depth == 0) {
        const char sign = src_[pos_] == '-' || src_[pos_] == '+' ? src_[pos_] : 0;
        if (src_.compare(pos_ + (sign ? 1 : 0), 2, close) == 0) {
          pos_ += 2 + (sign ? 1 : 0);
          tokens_.push_back({is_variable ? Token::Type::variable_end : Token::Type::block_end, "", line_});
          after_tag_end(sign, !is_variable);
          return;
        }
      }
      lex_expression_token(depth);
    }
  }

  void lex_expression_token(int& depth) {
    const char c = src_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const std::size_t start = pos_;
      while (pos_ < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) ++pos_;
      tokens_.push_back({Token::Type::name, src_.substr(start, pos_ - start), line_});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      lex_number();
    } else if (c == '\'' || c == '"') {
      lex_string(c);
    } else {
      lex_operator(depth);
    }
  }

  void lex_number() {
    std::string digits;
    auto take_digits = [&] {
      while (pos_ < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) {
        if (src_[pos_] != '_') digits.push_back(src_[pos_]);
        ++pos_;
      }
    };
    take_digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      digits.push_back('.');
      ++pos_;
      take_digits();
      is_float = true;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      std::size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p]))) {
        digits += 'e' + src_.substr(pos_ + 1, p - pos_ - 1);
        pos_ = p;
        take_digits();
        is_float = true;
      }
    }
    tokens_.push_back({is_float ? Token::Type::floating : Token::Type::integer, digits, line_});
  }

  // Python string escapes, as jinja2 decodes them ("unicode-escape").
  void lex_string(char quote) {
    const int line = line_;
    std::string value;
    advance();
    while (true) {
      if (pos_ >= src_.size()) fail(line, "unterminated string");
      const char c = src_[pos_];
      if (c == quote) {
        advance();
        break;
      }
      if (c != '\\') {
        value.push_back(c);
        advance();
        continue;
      }
      if (pos_ + 1 >= src_.size()) fail(line, "unterminated string");
      advance();
      lex_escape(value);
    }
    tokens_.push_back({Token::Type::string, std::move(value), line});
  }

  void lex_escape(std::string& value) {
    const char e = src_[pos_];
    advance();
    static constexpr std::array<std::pair<char, char>, 10> simple = {{{'n', '\n'},
                                                                       {'t', '\t'},
                                                                       {'r', '\r'},
                                                                       {'\\', '\\'},
                                                                       {'\'', '\''},
                                                                       {'"', '"'},
                                                                       {'a', '\a'},
                                                                       {'b', '\b'},
                                                                       {'f', '\f'},
                                                                       {'v', '\v'}}};
    for (const auto& [k, v] : simple) {
      if (e == k) {
        value.push_back(v);
        return;
      }
    }
    if (e == '\n') return;  // line continuation
    const int hex_digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (hex_digits > 0) {
      if (pos_ + hex_digits > src_.size()) fail(line_, "truncated \\" + std::string(1, e) + " escape");
      const std::string hex = src_.substr(pos_, static_cast<std::size_t>(hex_digits));
      for (char h : hex)
        if (!std::isxdigit(static_cast<unsigned char>(h))) fail(line_, "bad \\" + std::string(1, e) + " escape");
      const unsigned long cp = std::stoul(hex, nullptr, 16);
      if (cp > 0x10FFFF) fail(line_, "escape out of the Unicode range");
      utf8_append(value, static_cast<char32_t>(cp));
      pos_ += static_cast<std::size_t>(hex_digits);
      return;
    }
    if (e >= '0' && e <= '7') {
      unsigned cp = static_cast<unsigned>(e - '0');
      for (int k = 0; k < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++k, ++pos_)
        cp = cp * 8 + static_cast<unsigned>(src_[pos_] - '0');
      utf8_append(value, cp);
      return;
    }
    value.push_back('\\');  // Python keeps unknown escapes as they are
    value.push_back(e);
  }

  void lex_operator(int& depth) {
    static constexpr std::array<const char*, 6> two = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({Token::Type::op, op, line_});
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    if (std::string_view("+-*/%~()[]{}.,:|=<>;").find(c) == std::string_view::npos) {
      fail(line_, std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    tokens_.push_back({Token::Type::op, std::string(1, c), line_});
    ++pos_;
  }

  void advance() {
    if (src_[pos_] == '\n') ++line_;
    ++pos_;
  }

  std::string src_;
  std::size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalize_newlines(source)).run(); }

}  // namespace fhellm::chat::jinja
