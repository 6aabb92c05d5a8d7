// The syntax tree of a parsed Jinja template: expressions and statements,
// each with the source line it came from (for error messages).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace fhellm::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    literal,    // value
    name,       // name
    list,       // items
    tuple,      // items
    dict,       // items: key, value, key, value, ...
    get_attr,   // object.name
    get_item,   // object[items[0]]
    slice,      // object[items[0]:items[1]:items[2]] (null parts are absent)
    call,       // object(items..., kwargs...)
    filter,     // object | name(items..., kwargs...)
    test,       // object is [not] name(items..., kwargs...)
    unary,      // op in {not, -, +}; items[0]
    binary,     // items[0] op items[1]; op in {+ - * / // % ** ~ and or}
    compare,    // items[0] ops[0] items[1] ops[1] items[2] ... (chained as in Python)
    condition,  // items[1] if items[0] else items[2] (items[2] may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;                   // name, attribute, filter, test or operator
  bool negated = false;               // test: `is not`
  ExprPtr object;                     // get_attr, get_item, slice, call, filter, test
  std::vector<ExprPtr> items;         // operands and positional arguments
  std::vector<std::string> ops;       // compare
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Where `set` and `for` store: names (several: tuple unpacking) or ns.attr.
struct Target {
  std::vector<std::string> names;
  std::string ns_attr;  // non-empty: names[0].ns_attr (a namespace attribute)
};

struct Stmt {
  enum class Kind {
    text,        // text
    print,       // {{ expr }}
    if_,         // branches (condition, body); else_body
    for_,        // for target in expr [if filter]: body; else_body
    set,         // set target = expr
    set_block,   // set target %}body{% endset
    macro,       // macro name(params) body
    break_,
    continue_,
    generation,  // transformers' {% generation %}: its body, rendered as is
  };
  Kind kind;
  int line = 0;
  std::string text;                                  // text; macro name
  ExprPtr expr;                                      // print, set, for (iterable)
  ExprPtr filter;                                    // for ... if filter
  Target target;                                     // set, set_block, for
  std::vector<std::pair<ExprPtr, Body>> branches;    // if / elif
  Body body, else_body;                              // for, set_block, macro, generation; else
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro (default may be null)
};

}  // namespace fhellm::chat::jinja
