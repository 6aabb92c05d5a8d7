#include "chat/jinja_parser.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>

#include "fhellm/error.h"

namespace fhellm::chat::jinja {
namespace {

using T = Token::Type;
constexpr int kMaxDepth = 200;  // nesting of expressions and blocks: bounds the recursion

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  Body parse_template() {
    Body body = parse_body({});
    if (cur().type != T::eof) fail("unexpected '" + cur().text + "'");
    return body;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return t_[pos_]; }
  const Token& peek(std::size_t ahead = 1) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& next() {
    const Token& tok = t_[pos_];
    if (pos_ + 1 < t_.size()) ++pos_;
    return tok;
  }
  bool is_op(const char* op) const { return cur().type == T::op && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == T::name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(std::string("expected '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != T::name) fail("expected a name, got " + describe(cur()));
    return next().text;
  }
  void expect(T type, const char* what) {
    if (cur().type != type) fail(std::string("expected ") + what + ", got " + describe(cur()));
    next();
  }
  static std::string describe(const Token& tok) {
    switch (tok.type) {
      case T::eof: return "end of template";
      case T::variable_end: return "'}}'";
      case T::block_end: return "'%}'";
      case T::data: return "text";
      default: return "'" + tok.text + "'";
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::bad_chat_template, "chat template line " + std::to_string(cur().line) + ": " + what);
  }
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.fail("nesting deeper than " + std::to_string(kMaxDepth));
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  ExprPtr make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // ---- statements ----
  // Statements until a block tag named in `end_tags` (left unconsumed, at its name) or the end.
  Body parse_body(std::initializer_list<const char*> end_tags) {
    DepthGuard guard(*this);
    Body body;
    while (cur().type != T::eof) {
      if (cur().type == T::data) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::text;
        s->line = cur().line;
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (cur().type == T::variable_begin) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::print;
        s->line = next().line;
        s->expr = parse_tuple(true, {}, false);
        expect(T::variable_end, "'}}'");
        body.push_back(std::move(s));
      } else if (cur().type == T::block_begin) {
        const Token& tag = peek();
        if (tag.type == T::name && std::any_of(end_tags.begin(), end_tags.end(), [&](const char* e) { return tag.text == e; })) {
          next();
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(cur()));
      }
    }
    if (end_tags.size() > 0) fail(std::string("missing '{% ") + *end_tags.begin() + " %}' (or the tag that closes this block)");
    return body;
  }

  StmtPtr parse_statement() {
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    const std::string tag = expect_name();
    if (tag == "if") {
      parse_if(*s);
    } else if (tag == "for") {
      parse_for(*s);
    } else if (tag == "set") {
      parse_set(*s);
    } else if (tag == "macro") {
      parse_macro(*s);
    } else if (tag == "break" || tag == "continue") {
      s->kind = tag == "break" ? Stmt::Kind::break_ : Stmt::Kind::continue_;
      expect(T::block_end, "'%}'");
    } else if (tag == "generation") {
      s->kind = Stmt::Kind::generation;
      expect(T::block_end, "'%}'");
      s->body = parse_body({"endgeneration"});
      end_tag();
    } else {
      fail("unknown or unsupported tag '" + tag + "'");
    }
    return s;
  }

  // At the closing tag's name: consume it and its '%}'.
  void end_tag() {
    next();
    expect(T::block_end, "'%}'");
  }

  void parse_if(Stmt& s) {
    s.kind = Stmt::Kind::if_;
    while (true) {
      ExprPtr cond = parse_tuple(true, {}, false);
      expect(T::block_end, "'%}'");
      Body body = parse_body({"elif", "else", "endif"});
      s.branches.emplace_back(std::move(cond), std::move(body));
      const std::string tag = next().text;
      if (tag == "elif") continue;
      if (tag == "else") {
        expect(T::block_end, "'%}'");
        s.else_body = parse_body({"endif"});
        end_tag();
      } else {
        expect(T::block_end, "'%}'");
      }
      return;
    }
  }

  void parse_for(Stmt& s) {
    s.kind = Stmt::Kind::for_;
    s.target = parse_target(false);
    if (!skip_name("in")) fail("expected 'in' in a for loop, got " + describe(cur()));
    s.expr = parse_tuple(false, {"recursive", "if"}, false);
    if (skip_name("if")) s.filter = parse_expression(true);
    if (is_name("recursive")) fail("recursive loops are not supported");
    expect(T::block_end, "'%}'");
    s.body = parse_body({"endfor", "else"});
    if (next().text == "else") {
      expect(T::block_end, "'%}'");
      s.else_body = parse_body({"endfor"});
      end_tag();
    } else {
      expect(T::block_end, "'%}'");
    }
  }

  // A name, `ns.attr` (set only), or names separated by commas, optionally in parentheses.
  Target parse_target(bool allow_ns_attr) {
    Target target;
    const bool paren = skip_op("(");
    target.names.push_back(expect_name());
    if (allow_ns_attr && !paren && skip_op(".")) {
      target.ns_attr = expect_name();
      return target;
    }
    while (skip_op(",")) {
      if (cur().type != T::name || is_name("in")) break;
      target.names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return target;
  }

  void parse_set(Stmt& s) {
    s.target = parse_target(true);
    if (skip_op("=")) {
      s.kind = Stmt::Kind::set;
      s.expr = parse_tuple(true, {}, false);
      expect(T::block_end, "'%}'");
      return;
    }
    s.kind = Stmt::Kind::set_block;
    expect(T::block_end, "'%}'");
    s.body = parse_body({"endset"});
    end_tag();
  }

  void parse_macro(Stmt& s) {
    s.kind = Stmt::Kind::macro;
    s.text = expect_name();
    expect_op("(");
    while (!skip_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (skip_op(")")) break;
      std::string name = expect_name();
      ExprPtr def = skip_op("=") ? parse_expression(true) : nullptr;
      s.params.emplace_back(std::move(name), std::move(def));
    }
    expect(T::block_end, "'%}'");
    s.body = parse_body({"endmacro"});
    next();
    if (cur().type == T::name && cur().text == s.text) next();  // {% endmacro name %}
    expect(T::block_end, "'%}'");
  }

  // ---- expressions ----
  bool at_tuple_end(std::initializer_list<const char*> extra_end) const {
    if (cur().type == T::variable_end || cur().type == T::block_end || cur().type == T::eof) return true;
    if (cur().type == T::op && cur().text == ")") return true;
    return cur().type == T::name &&
           std::any_of(extra_end.begin(), extra_end.end(), [&](const char* e) { return cur().text == e; });
  }

  ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra_end, bool explicit_parens) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (at_tuple_end(extra_end)) break;
      items.push_back(with_condexpr ? parse_expression(true) : parse_or());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail("expected an expression, got " + describe(cur()));
    }
    auto e = make(Expr::Kind::tuple, line);
    e->items = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      const int line = next().line;
      auto e = make(Expr::Kind::condition, line);
      e->items.push_back(parse_or());
      e->items.push_back(std::move(expr));
      e->items.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, int line) {
    auto e = make(Expr::Kind::binary, line);
    e->name = op;
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const int line = next().line;
      auto e = make(Expr::Kind::unary, line);
      e->name = "not";
      e->items.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    auto e = make(Expr::Kind::compare, line);
    while (true) {
      if (cur().type == T::op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                  cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
        e->ops.push_back(next().text);
      } else if (is_name("in")) {
        next();
        e->ops.push_back("in");
      } else if (is_name("not") && peek().type == T::name && peek().text == "in") {
        next();
        next();
        e->ops.push_back("notin");
      } else {
        break;
      }
      e->items.push_back(parse_math1());
    }
    if (e->ops.empty()) return first;
    e->items.insert(e->items.begin(), std::move(first));
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = next();
      left = binary(op.text, std::move(left), parse_concat(), op.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const int line = next().line;
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = next();
      left = binary(op.text, std::move(left), parse_pow(), op.line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      node = make(Expr::Kind::unary, op.line);
      node->name = op.text;
      node->items.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    return with_filter ? parse_filter_expr(std::move(node)) : std::move(node);
  }

  ExprPtr literal(Value v, int line) {
    auto e = make(Expr::Kind::literal, line);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tok = cur();
    const int line = tok.line;
    if (tok.type == T::name) {
      next();
      if (tok.text == "true" || tok.text == "True") return literal(Value::boolean(true), line);
      if (tok.text == "false" || tok.text == "False") return literal(Value::boolean(false), line);
      if (tok.text == "none" || tok.text == "None") return literal(Value::none(), line);
      auto e = make(Expr::Kind::name, line);
      e->name = tok.text;
      return e;
    }
    if (tok.type == T::string) {
      std::string s;
      while (cur().type == T::string) s += next().text;  // adjacent literals join, as in Python
      return literal(Value::string(std::move(s)), line);
    }
    if (tok.type == T::integer) {
      next();
      std::int64_t v = 0;
      const auto r = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
      if (r.ec != std::errc()) fail("integer '" + tok.text + "' out of range");
      return literal(Value::integer(v), line);
    }
    if (tok.type == T::floating) {
      next();
      return literal(Value::floating(std::strtod(tok.text.c_str(), nullptr)), line);
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (skip_op("[")) return parse_list(line);
    if (skip_op("{")) return parse_dict(line);
    fail("unexpected " + describe(tok));
  }

  ExprPtr parse_list(int line) {
    auto e = make(Expr::Kind::list, line);
    while (!skip_op("]")) {
      if (!e->items.empty()) expect_op(",");
      if (skip_op("]")) break;
      e->items.push_back(parse_expression(true));
    }
    return e;
  }

  ExprPtr parse_dict(int line) {
    auto e = make(Expr::Kind::dict, line);
    while (!skip_op("}")) {
      if (!e->items.empty()) expect_op(",");
      if (skip_op("}")) break;
      e->items.push_back(parse_expression(true));
      expect_op(":");
      e->items.push_back(parse_expression(true));
    }
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& tok = next();
    if (tok.text == ".") {
      if (cur().type == T::integer) {
        auto e = make(Expr::Kind::get_item, tok.line);
        e->object = std::move(node);
        e->items.push_back(parse_primary());
        return e;
      }
      auto e = make(Expr::Kind::get_attr, tok.line);
      e->object = std::move(node);
      e->name = expect_name();
      return e;
    }
    // [index] or [start:stop:step]
    ExprPtr parts[3];
    int colons = 0;
    while (!is_op("]")) {
      if (skip_op(":")) {
        if (++colons > 2) fail("a slice has at most two ':'");
        continue;
      }
      if (parts[colons]) fail("expected ':' or ']' in a subscript, got " + describe(cur()));
      parts[colons] = parse_expression(true);
    }
    next();
    if (colons == 0 && !parts[0]) fail("empty subscript");
    auto e = make(colons == 0 ? Expr::Kind::get_item : Expr::Kind::slice, tok.line);
    e->object = std::move(node);
    for (int i = 0; i <= (colons == 0 ? 0 : 2); ++i) e->items.push_back(std::move(parts[i]));
    return e;
  }

  // (args, name=value, ...) after the callee; fills items and kwargs of e.
  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (skip_op(")")) break;
      if (cur().type == T::name && peek().type == T::op && peek().text == "=") {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("a positional argument follows a keyword argument");
        e.items.push_back(parse_expression(true));
      }
    }
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(Expr::Kind::call, cur().line);
    e->object = std::move(node);
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  ExprPtr parse_filter(ExprPtr node) {
    const int line = next().line;  // '|'
    auto e = make(Expr::Kind::filter, line);
    e->object = std::move(node);
    e->name = dotted_name();
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_test(ExprPtr node) {
    const int line = next().line;  // 'is'
    auto e = make(Expr::Kind::test, line);
    e->object = std::move(node);
    e->negated = skip_name("not");
    e->name = dotted_name();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((cur().type == T::name || cur().type == T::string || cur().type == T::integer ||
                cur().type == T::floating || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("tests cannot be chained with 'is'");
      e->items.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }

  const std::vector<Token>& t_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace fhellm::chat::jinja
