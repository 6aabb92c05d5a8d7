// Python's operators, look-ups and iteration on Jinja values.
#include <algorithm>
#include <cmath>

#include "chat/jinja_builtins.h"
#include "chat/jinja_unicode.h"

namespace fhellm::chat::jinja {

void require_defined(const Value& v) {
  // An undefined value carries jinja2's message: "'x' is undefined", "'dict object' has no attribute 'y'".
  if (v.is_undefined()) throw EvalError(v.as_string().empty() ? "undefined value" : v.as_string());
}

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw EvalError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

Value repeat(const Value& seq, std::int64_t n) {
  if (n > 0 && static_cast<double>(n) * static_cast<double>(seq.is_string() ? seq.as_string().size() : seq.as_list().size()) > 16e6) {
    throw EvalError("repetition of more than 16M items");
  }
  if (seq.is_string()) {
    std::string out;
    for (std::int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value::string(std::move(out));
  }
  std::vector<Value> out;
  for (std::int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return Value::list(std::move(out), seq.is_tuple());
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  const bool ints = a.is_integral() && b.is_integral();
  const std::int64_t x = a.as_int(), y = b.as_int();
  const double p = a.as_double(), q = b.as_double();
  if (op == "+") return ints ? Value::integer(x + y) : Value::floating(p + q);
  if (op == "-") return ints ? Value::integer(x - y) : Value::floating(p - q);
  if (op == "*") return ints ? Value::integer(x * y) : Value::floating(p * q);
  if (op == "/") {
    if (q == 0) throw EvalError("division by zero");
    return Value::floating(p / q);
  }
  if (op == "//" || op == "%") {
    if (ints ? y == 0 : q == 0) throw EvalError(ints ? "integer division or modulo by zero" : "float modulo");
    if (ints) return Value::integer(op == "//" ? floor_div(x, y) : x - floor_div(x, y) * y);
    if (op == "//") return Value::floating(std::floor(p / q));
    double m = std::fmod(p, q);
    if (m != 0 && ((m < 0) != (q < 0))) m += q;
    return Value::floating(m);
  }
  // **
  if (ints && y >= 0 && (y <= 62 || x == 0 || x == 1 || x == -1)) {
    std::int64_t r = 1;
    for (std::int64_t i = 0; i < std::min<std::int64_t>(y, 64); ++i) r *= x;
    if (y > 64 && x == -1) r = (y % 2) ? -1 : 1;
    return Value::integer(r);
  }
  return Value::floating(std::pow(p, q));
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value::string(a.str() + b.str());
  require_defined(a);
  require_defined(b);
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::string(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      std::vector<Value> out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(out), a.is_tuple());
    }
    if (a.is_string()) throw EvalError("can only concatenate str (not \"" + b.type_name() + "\") to str");
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(a, b.as_int());
    if (a.is_integral() && (b.is_string() || b.is_list())) return repeat(b, a.as_int());
  }
  if (op == "%" && a.is_string()) throw EvalError("'%' string formatting is not supported in chat templates");
  unsupported(op, a, b);
}

Value negate(const Value& v) {
  require_defined(v);
  if (v.is_integral()) return Value::integer(-v.as_int());
  if (v.kind() == Value::Kind::floating) return Value::floating(-v.as_double());
  throw EvalError("bad operand type for unary -: '" + v.type_name() + "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined: return false;
    case Value::Kind::string:
      if (!item.is_string()) throw EvalError("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::list:
      for (const Value& v : container.as_list())
        if (equal(v, item)) return true;
      return false;
    case Value::Kind::dict: return container.as_dict().find(item) != nullptr;
    default: throw EvalError("argument of type '" + container.type_name() + "' is not iterable");
  }
}

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equal(a, b);
  if (op == "!=") return !equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "notin") return !contains(b, a);
  require_defined(a);
  require_defined(b);
  try {
    if (op == "<") return less(a, b);
    if (op == ">") return less(b, a);
    if (op == "<=") return !less(b, a);
    return !less(a, b);  // >=
  } catch (const std::invalid_argument& e) {
    throw EvalError(e.what());
  }
}

Value get_attribute(const Value& obj, const std::string& name) {
  require_defined(obj);
  if (obj.is_dict() || obj.is_ns()) {
    if (obj.is_dict()) {
      Value m = method(obj, name);
      if (!m.is_undefined()) return m;
    }
    if (const Value* v = obj.as_dict().find(name)) return *v;
    return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
  }
  Value m = method(obj, name);
  if (!m.is_undefined()) return m;
  return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  require_defined(obj);
  if (obj.is_dict() || obj.is_ns()) {
    if (const Value* v = obj.as_dict().find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    const std::u32string cps = obj.is_string() ? utf8_decode(obj.as_string()) : std::u32string();
    const auto n = static_cast<std::int64_t>(obj.is_list() ? obj.as_list().size() : cps.size());
    std::int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      return obj.is_list() ? obj.as_list()[static_cast<std::size_t>(i)]
                           : Value::string(utf8_encode(std::u32string(1, cps[static_cast<std::size_t>(i)])));
    }
    return Value::undefined("'" + obj.type_name() + " object' has no element " + std::to_string(key.as_int()));
  }
  if (key.is_string()) {
    Value m = obj.is_ns() ? Value() : method(obj, key.as_string());
    if (!m.is_undefined()) return m;
    return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + key.as_string() + "'");
  }
  return Value::undefined("'" + obj.type_name() + " object' has no element " + key.repr());
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step_v) {
  require_defined(obj);
  if (!obj.is_list() && !obj.is_string()) throw EvalError("'" + obj.type_name() + "' object is not subscriptable");
  auto given = [](const Value& v) { return !v.is_undefined() && !v.is_none(); };
  for (const Value* v : {&start, &stop, &step_v})
    if (given(*v) && !v->is_integral()) throw EvalError("slice indices must be integers or None");
  const std::u32string cps = obj.is_string() ? utf8_decode(obj.as_string()) : std::u32string();
  const auto n = static_cast<std::int64_t>(obj.is_list() ? obj.as_list().size() : cps.size());
  const std::int64_t step = given(step_v) ? step_v.as_int() : 1;
  if (step == 0) throw EvalError("slice step cannot be zero");
  // Python's slice.indices().
  auto clamp = [&](const Value& v, std::int64_t fallback) {
    if (!given(v)) return fallback;
    std::int64_t i = v.as_int();
    if (i < 0) i += n;
    if (step > 0) return std::clamp<std::int64_t>(i, 0, n);
    return std::clamp<std::int64_t>(i, -1, n - 1);
  };
  const std::int64_t lo = clamp(start, step > 0 ? 0 : n - 1), hi = clamp(stop, step > 0 ? n : -1);
  std::vector<Value> items;
  std::u32string chars;
  for (std::int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
    if (obj.is_list()) {
      items.push_back(obj.as_list()[static_cast<std::size_t>(i)]);
    } else {
      chars.push_back(cps[static_cast<std::size_t>(i)]);
    }
  }
  return obj.is_list() ? Value::list(std::move(items), obj.is_tuple()) : Value::string(utf8_encode(chars));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::list: return v.as_list();
    case Value::Kind::dict: {
      std::vector<Value> keys;
      for (const auto& [k, _] : v.as_dict().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::string: {
      std::vector<Value> chars;
      for (char32_t c : utf8_decode(v.as_string())) chars.push_back(Value::string(utf8_encode(std::u32string(1, c))));
      return chars;
    }
    default: throw EvalError("'" + v.type_name() + "' object is not iterable");
  }
}

}  // namespace fhellm::chat::jinja
