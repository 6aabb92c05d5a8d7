// jinja2's tests (`x is defined`, `x is string`, ...) and the global
// functions of transformers' environment (range, dict, namespace,
// raise_exception, strftime_now).
#include <algorithm>
#include <map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_unicode.h"

namespace fhellm::chat::jinja {
namespace {

const Value kUndefined;
using Test = bool (*)(const Value&, CallArgs&);

const Value& first_arg(CallArgs& a) { return argument(a, 0, "other", kUndefined); }

bool t_defined(const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(const Value& v, CallArgs&) { return v.kind() == Value::Kind::boolean; }
bool t_true(const Value& v, CallArgs&) { return v.kind() == Value::Kind::boolean && v.as_bool(); }
bool t_false(const Value& v, CallArgs&) { return v.kind() == Value::Kind::boolean && !v.as_bool(); }
bool t_integer(const Value& v, CallArgs&) { return v.kind() == Value::Kind::integer; }
bool t_float(const Value& v, CallArgs&) { return v.kind() == Value::Kind::floating; }
bool t_number(const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(const Value& v, CallArgs&) { return v.is_dict(); }
bool t_iterable(const Value& v, CallArgs&) { return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict(); }
bool t_sequence(const Value& v, CallArgs& a) { return t_iterable(v, a); }
bool t_callable(const Value& v, CallArgs&) { return v.is_callable(); }
bool t_odd(const Value& v, CallArgs&) { return to_int(v, "odd's operand") % 2 != 0; }
bool t_even(const Value& v, CallArgs&) { return to_int(v, "even's operand") % 2 == 0; }
bool t_divisibleby(const Value& v, CallArgs& a) {
  const std::int64_t d = to_int(argument(a, 0, "num", kUndefined), "divisibleby's argument");
  if (d == 0) throw EvalError("integer division or modulo by zero");
  return to_int(v, "divisibleby's operand") % d == 0;
}
bool t_eq(const Value& v, CallArgs& a) { return compare("==", v, first_arg(a)); }
bool t_ne(const Value& v, CallArgs& a) { return compare("!=", v, first_arg(a)); }
bool t_lt(const Value& v, CallArgs& a) { return compare("<", v, first_arg(a)); }
bool t_le(const Value& v, CallArgs& a) { return compare("<=", v, first_arg(a)); }
bool t_gt(const Value& v, CallArgs& a) { return compare(">", v, first_arg(a)); }
bool t_ge(const Value& v, CallArgs& a) { return compare(">=", v, first_arg(a)); }
bool t_in(const Value& v, CallArgs& a) { return contains(argument(a, 0, "seq", kUndefined), v); }
bool t_sameas(const Value& v, CallArgs& a) {
  const Value& o = first_arg(a);
  return v.kind() == o.kind() && equal(v, o);
}
bool cased(const Value& v, bool upper) {
  if (!v.is_string()) return false;
  bool any = false;
  for (char32_t c : utf8_decode(v.as_string())) {
    if ((c >= 'a' && c <= 'z' && upper) || (c >= 'A' && c <= 'Z' && !upper)) return false;
    any = any || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  return any;
}
bool t_lower(const Value& v, CallArgs&) { return cased(v, false); }
bool t_upper(const Value& v, CallArgs&) { return cased(v, true); }

const std::map<std::string, Test>& tests() {
  static const std::map<std::string, Test> table = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none},       {"boolean", t_boolean},
      {"true", t_true},       {"false", t_false},         {"integer", t_integer}, {"float", t_float},
      {"number", t_number},   {"string", t_string},       {"mapping", t_mapping}, {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable}, {"odd", t_odd},         {"even", t_even},
      {"divisibleby", t_divisibleby}, {"eq", t_eq},       {"equalto", t_eq},      {"==", t_eq},
      {"ne", t_ne},           {"!=", t_ne},               {"lt", t_lt},           {"lessthan", t_lt},
      {"<", t_lt},            {"le", t_le},               {"<=", t_le},           {"gt", t_gt},
      {"greaterthan", t_gt},  {">", t_gt},                {"ge", t_ge},           {">=", t_ge},
      {"in", t_in},           {"sameas", t_sameas},       {"lower", t_lower},     {"upper", t_upper},
  };
  return table;
}

constexpr std::int64_t kMaxRange = 100000;  // jinja2's sandbox refuses larger ranges

Value g_range(CallArgs& a) {
  if (a.args.empty() || a.args.size() > 3) throw EvalError("range expected 1 to 3 arguments");
  std::int64_t start = 0, stop = 0, step = 1;
  if (a.args.size() == 1) {
    stop = to_int(a.args[0], "range's argument");
  } else {
    start = to_int(a.args[0], "range's start");
    stop = to_int(a.args[1], "range's stop");
    if (a.args.size() == 3) step = to_int(a.args[2], "range's step");
  }
  if (step == 0) throw EvalError("range() arg 3 must not be zero");
  const std::int64_t n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                                  : (start > stop ? (start - stop - step - 1) / -step : 0);
  if (n > kMaxRange) throw EvalError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<Value> out;
  for (std::int64_t i = 0; i < n; ++i) out.push_back(Value::integer(start + i * step));
  return Value::list(std::move(out));
}

std::shared_ptr<Dict> dict_from_args(CallArgs& a) {
  auto d = std::make_shared<Dict>();
  for (const Value& arg : a.args) {
    if (!arg.is_dict()) throw EvalError("expected a mapping argument, got " + arg.type_name());
    for (const auto& [k, v] : arg.as_dict().items) d->set(k, v);
  }
  for (const auto& [k, v] : a.kwargs) d->set(Value::string(k), v);
  return d;
}

}  // namespace

bool apply_test(const std::string& name, const Value& operand, CallArgs& args) {
  const auto it = tests().find(name);
  if (it == tests().end()) throw EvalError("no test named '" + name + "'");
  return it->second(operand, args);
}

Dict global_functions(const Clock& clock) {
  Dict g;
  g.set(Value::string("range"), Value::callable(g_range, "range"));
  g.set(Value::string("dict"), Value::callable([](CallArgs& a) { return Value::dict(dict_from_args(a)); }, "dict"));
  g.set(Value::string("namespace"),
        Value::callable([](CallArgs& a) { return Value::ns(dict_from_args(a)); }, "namespace"));
  g.set(Value::string("raise_exception"), Value::callable(
                                               [](CallArgs& a) -> Value {
                                                 throw RaisedException(argument(a, 0, "message", kUndefined).str());
                                               },
                                               "raise_exception"));
  if (clock) {
    g.set(Value::string("strftime_now"), Value::callable(
                                             [clock](CallArgs& a) {
                                               return Value::string(clock(argument(a, 0, "format", kUndefined).str()));
                                             },
                                             "strftime_now"));
  }
  return g;
}

}  // namespace fhellm::chat::jinja
