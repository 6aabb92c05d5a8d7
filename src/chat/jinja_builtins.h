// What jinja2 (in transformers' sandboxed environment) gives a template
// besides its syntax: Python's operators on values, attribute and item
// look-up, the str/dict/list methods a template may call, the filters, the
// tests and the global functions. Failures throw EvalError (the interpreter
// adds the line) or, from the template's raise_exception(), RaisedException.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "chat/jinja_value.h"

namespace fhellm::chat::jinja {

struct EvalError : std::runtime_error {
  using std::runtime_error::runtime_error;
  int line = 0;
};
struct RaisedException : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws EvalError("'name' is undefined") when v is undefined.
void require_defined(const Value& v);

// ---- operators (jinja_operators.cpp) ----
// op: + - * / // % ** ~
Value binary_op(const std::string& op, const Value& a, const Value& b);
Value negate(const Value& v);
// Python's `a in b`.
bool contains(const Value& container, const Value& item);
// Python's a op b for == != < > <= >= in notin.
bool compare(const std::string& op, const Value& a, const Value& b);

// ---- look-up (jinja_operators.cpp) ----
// `obj.name`: a method of obj's type first, then a key (jinja2's getattr).
Value get_attribute(const Value& obj, const std::string& name);
// `obj[key]`: a key or index first, then a method (jinja2's getitem).
Value get_item(const Value& obj, const Value& key);
// `obj[start:stop:step]` on a list or string; absent parts are undefined.
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Items a for loop visits: list items, dict keys, string characters.
std::vector<Value> iterate(const Value& v);

// ---- methods (jinja_methods.cpp) ----
// A bound method of a str, dict or list, or undefined if the type has none by that name.
Value method(const Value& obj, const std::string& name);

// ---- filters and tests (jinja_filters.cpp, jinja_tests.cpp) ----
// Throws EvalError for an unknown filter.
Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
// Throws EvalError for an unknown test.
bool apply_test(const std::string& name, const Value& operand, CallArgs& args);

// ---- globals (jinja_tests.cpp) ----
// range, dict, namespace, raise_exception, and strftime_now when `clock` is
// set (transformers' global: the local time formatted by strftime).
using Clock = std::function<std::string(const std::string& format)>;
Dict global_functions(const Clock& clock);

// ---- argument helpers ----
// The argument at `position` or called `name`, else `fallback` (a reference
// to it: a temporary fallback needs the result copied, not bound).
const Value& argument(const CallArgs& args, std::size_t position, const char* name, const Value& fallback);
std::int64_t to_int(const Value& v, const char* what);

}  // namespace fhellm::chat::jinja
