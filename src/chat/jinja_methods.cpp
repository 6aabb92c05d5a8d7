// The methods of Python's str, dict and list that chat templates call
// (content.strip(), message.get('x'), tool.items(), ...). Mutating methods
// are absent: transformers renders in jinja2's immutable sandbox.
#include <algorithm>

#include "chat/jinja_builtins.h"
#include "chat/jinja_unicode.h"

namespace fhellm::chat::jinja {

const Value& argument(const CallArgs& args, std::size_t position, const char* name, const Value& fallback) {
  for (const auto& [k, v] : args.kwargs)
    if (k == name) return v;
  return position < args.args.size() ? args.args[position] : fallback;
}

std::int64_t to_int(const Value& v, const char* what) {
  if (!v.is_integral()) throw EvalError(std::string(what) + " must be an integer, not " + v.type_name());
  return v.as_int();
}

namespace {

const Value kNone = Value::none();
const Value kUndefined;

std::string string_arg(const CallArgs& args, std::size_t position, const char* name) {
  const Value& v = argument(args, position, name, kUndefined);
  if (!v.is_string()) throw EvalError(std::string("argument '") + name + "' must be str, not " + v.type_name());
  return v.as_string();
}

Value split(const std::string& s, const CallArgs& args) {
  const Value& sep = argument(args, 0, "sep", kNone);
  const Value max_v = argument(args, 1, "maxsplit", Value::integer(-1));
  std::int64_t max_split = to_int(max_v, "maxsplit");
  std::vector<Value> parts;
  if (sep.is_none()) {  // runs of whitespace, no empty parts
    const std::u32string cps = utf8_decode(s);
    std::size_t i = 0;
    while (true) {
      while (i < cps.size() && is_space(cps[i])) ++i;
      if (i == cps.size()) break;
      if (max_split == 0) {
        std::size_t end = cps.size();
        while (end > i && is_space(cps[end - 1])) --end;
        parts.push_back(Value::string(utf8_encode(std::u32string_view(cps).substr(i, end - i))));
        break;
      }
      std::size_t j = i;
      while (j < cps.size() && !is_space(cps[j])) ++j;
      parts.push_back(Value::string(utf8_encode(std::u32string_view(cps).substr(i, j - i))));
      --max_split;
      i = j;
    }
    return Value::list(std::move(parts));
  }
  if (!sep.is_string()) throw EvalError("must be str or None, not " + sep.type_name());
  if (sep.as_string().empty()) throw EvalError("empty separator");
  std::size_t start = 0, at;
  while (max_split != 0 && (at = s.find(sep.as_string(), start)) != std::string::npos) {
    parts.push_back(Value::string(s.substr(start, at - start)));
    start = at + sep.as_string().size();
    --max_split;
  }
  parts.push_back(Value::string(s.substr(start)));
  return Value::list(std::move(parts));
}

Value splitlines(const std::string& s) {
  std::vector<Value> lines;
  const std::u32string cps = utf8_decode(s);
  std::u32string line;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool breaks = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                        c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!breaks) {
      line.push_back(c);
      continue;
    }
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    lines.push_back(Value::string(utf8_encode(line)));
    line.clear();
  }
  if (!line.empty()) lines.push_back(Value::string(utf8_encode(line)));
  return Value::list(std::move(lines));
}

bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw EvalError("startswith/endswith takes str or a tuple of str, not " + a.type_name());
    const std::string& p = a.as_string();
    return p.size() <= s.size() && (prefix ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0);
  };
  if (affix.is_list()) return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
  return one(affix);
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, std::int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` around every character
    const std::u32string cps = utf8_decode(s);
    for (std::size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || static_cast<std::int64_t>(i) < count) out += to;
      if (i < cps.size()) utf8_append(out, cps[i]);
    }
    return out;
  }
  std::size_t start = 0, at;
  while (count != 0 && (at = s.find(from, start)) != std::string::npos) {
    out += s.substr(start, at - start) + to;
    start = at + from.size();
    --count;
  }
  return out + s.substr(start);
}

std::string map_case(const std::string& s, int mode) {  // 0 upper, 1 lower, 2 title, 3 capitalize
  const std::u32string cps = utf8_decode(s);
  if (mode == 0) return utf8_encode(to_upper(cps));
  if (mode == 1) return utf8_encode(to_lower(cps));
  std::u32string out;
  bool previous_cased = false;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool upper = (mode == 2 && !previous_cased) || (mode == 3 && i == 0);
    out += upper ? to_upper(std::u32string(1, c)) : to_lower(std::u32string(1, c));
    previous_cased = is_cased(c);
  }
  return utf8_encode(out);
}

Value count_of(const std::string& s, const std::string& sub) {
  if (sub.empty()) return Value::integer(static_cast<std::int64_t>(utf8_length(s) + 1));
  std::int64_t n = 0;
  for (std::size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
  return Value::integer(n);
}

Value string_method(const std::string& s, const std::string& name, CallArgs& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Value& chars = argument(a, 0, "chars", kNone);
    const bool given = !chars.is_none();
    if (given && !chars.is_string()) throw EvalError(name + " arg must be None or str");
    return Value::string(strip(s, given ? chars.as_string() : "", name != "rstrip", name != "lstrip", given));
  }
  if (name == "split") return split(s, a);
  if (name == "splitlines") return splitlines(s);
  if (name == "startswith" || name == "endswith")
    return Value::boolean(affix_matches(s, argument(a, 0, "prefix", kUndefined), name == "startswith"));
  if (name == "upper") return Value::string(map_case(s, 0));
  if (name == "lower") return Value::string(map_case(s, 1));
  if (name == "title") return Value::string(map_case(s, 2));
  if (name == "capitalize") return Value::string(map_case(s, 3));
  if (name == "replace") {
    return Value::string(replace(s, string_arg(a, 0, "old"), string_arg(a, 1, "new"),
                                 to_int(argument(a, 2, "count", Value::integer(-1)), "count")));
  }
  if (name == "find" || name == "rfind") {
    const std::string sub = string_arg(a, 0, "sub");
    const std::size_t at = name == "find" ? s.find(sub) : s.rfind(sub);
    return Value::integer(at == std::string::npos ? -1 : static_cast<std::int64_t>(utf8_length(s.substr(0, at))));
  }
  if (name == "count") return count_of(s, string_arg(a, 0, "sub"));
  if (name == "join") {
    std::string out;
    const std::vector<Value> items = iterate(argument(a, 0, "iterable", kUndefined));
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) throw EvalError("sequence item " + std::to_string(i) + ": expected str instance");
      out += (i ? s : "") + items[i].as_string();
    }
    return Value::string(std::move(out));
  }
  const std::u32string cps = utf8_decode(s);
  auto all = [&](auto pred) { return Value::boolean(!cps.empty() && std::all_of(cps.begin(), cps.end(), pred)); };
  if (name == "isdigit") return all([](char32_t c) { return c >= '0' && c <= '9'; });
  if (name == "isalpha") return all(is_cased);
  if (name == "isspace") return all(is_space);
  return Value();
}

bool is_string_method(const std::string& n) {
  static const char* names[] = {"strip", "lstrip", "rstrip", "split", "splitlines", "startswith", "endswith",
                                "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "count",
                                "join", "isdigit", "isalpha", "isspace"};
  return std::any_of(std::begin(names), std::end(names), [&](const char* m) { return n == m; });
}

Value dict_method(const Value& d, const std::string& name, CallArgs& a) {
  std::vector<Value> out;
  for (const auto& [k, v] : d.as_dict().items) {
    if (name == "items") out.push_back(Value::list({k, v}, true));
    if (name == "keys") out.push_back(k);
    if (name == "values") out.push_back(v);
  }
  if (name != "get") return Value::list(std::move(out));
  const Value* v = d.as_dict().find(argument(a, 0, "key", kUndefined));
  return v ? *v : argument(a, 1, "default", kNone);
}

}  // namespace

Value method(const Value& obj, const std::string& name) {
  if (obj.is_string() && is_string_method(name)) {
    const std::string s = obj.as_string();
    return Value::callable([s, name](CallArgs& a) { return string_method(s, name, a); }, "str." + name);
  }
  if (obj.is_dict() && (name == "items" || name == "keys" || name == "values" || name == "get")) {
    return Value::callable([obj, name](CallArgs& a) { return dict_method(obj, name, a); }, "dict." + name);
  }
  if (obj.is_list() && (name == "index" || name == "count")) {
    return Value::callable(
        [obj, name](CallArgs& a) {
          const Value& x = argument(a, 0, "value", kUndefined);
          std::int64_t n = 0;
          for (std::size_t i = 0; i < obj.as_list().size(); ++i) {
            if (!equal(obj.as_list()[i], x)) continue;
            if (name == "index") return Value::integer(static_cast<std::int64_t>(i));
            ++n;
          }
          if (name == "index") throw EvalError(x.repr() + " is not in list");
          return Value::integer(n);
        },
        "list." + name);
  }
  return Value();
}

}  // namespace fhellm::chat::jinja
