// A value of the Jinja template language as Python's jinja2 sees it: undefined,
// None, bool, int, float, str, list (or tuple), dict, namespace, callable.
// Lists and dicts are shared (Python reference semantics); the sandbox that
// transformers uses forbids mutating them, so only a namespace is ever changed
// after it is made. Strings are UTF-8; lengths and indices count code points.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fhellm::chat::jinja {

class Value;
struct Dict;

// Arguments of a call: positional, then keyword (name, value) in source order.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};
using Function = std::function<Value(CallArgs&)>;

class Value {
 public:
  enum class Kind : std::uint8_t { undefined, none, boolean, integer, floating, string, list, dict, ns, callable };

  Value() = default;  // undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(std::int64_t i);
  static Value floating(double d);
  static Value string(std::string s);
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value dict(std::shared_ptr<Dict> d);
  static Value dict();
  static Value ns(std::shared_ptr<Dict> d);  // namespace(): the one mutable object
  static Value callable(Function f, std::string name);
  // From JSON: null -> None, object keys keep their order.
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::undefined; }
  bool is_none() const { return kind_ == Kind::none; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_list() const { return kind_ == Kind::list; }
  bool is_tuple() const { return kind_ == Kind::list && is_tuple_; }
  bool is_dict() const { return kind_ == Kind::dict; }
  bool is_ns() const { return kind_ == Kind::ns; }
  bool is_callable() const { return kind_ == Kind::callable; }
  // bool, int and float: Python's numbers (bool is an int there).
  bool is_number() const { return kind_ == Kind::boolean || kind_ == Kind::integer || kind_ == Kind::floating; }
  bool is_integral() const { return kind_ == Kind::boolean || kind_ == Kind::integer; }

  bool as_bool() const { return bool_; }
  std::int64_t as_int() const { return kind_ == Kind::floating ? static_cast<std::int64_t>(float_) : int_; }
  double as_double() const { return kind_ == Kind::floating ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return string_; }  // also an undefined value's name
  const std::vector<Value>& as_list() const { return *list_; }
  Dict& as_dict() const { return *dict_; }  // dict and namespace
  const Function& as_function() const { return *function_; }
  const std::string& function_name() const { return string_; }

  // Python's bool(x).
  bool truthy() const;
  // Python's str(x) (what `{{ x }}` prints; undefined prints nothing).
  std::string str() const;
  // Python's repr(x).
  std::string repr() const;
  // Python type name for messages ("int", "str", "dict", ...).
  std::string type_name() const;

 private:
  Kind kind_ = Kind::undefined;
  bool bool_ = false;
  bool is_tuple_ = false;
  std::int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  std::shared_ptr<const std::vector<Value>> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Function> function_;
};

// A dict in insertion order (Python 3.7+), keys compared by Python equality.
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(Value key, Value value);
};

// Python's ==, and < for the types that order (numbers, strings, lists).
bool equal(const Value& a, const Value& b);
// Throws std::invalid_argument when a and b do not order.
bool less(const Value& a, const Value& b);

// Python's repr of a float (shortest round trip, "1e-05", "1.0", "inf").
std::string float_repr(double d);

// Python's json.dumps(x, ensure_ascii=False, indent=indent, separators=...,
// sort_keys=...) as transformers' `tojson` filter calls it. indent < 0: none.
struct JsonStyle {
  int indent = -1;
  std::string item_separator = ", ", key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);

}  // namespace fhellm::chat::jinja
