// jinja2's built-in filters, with transformers' own `tojson`
// (json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)).
#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "chat/jinja_builtins.h"
#include "chat/jinja_unicode.h"

namespace fhellm::chat::jinja {
namespace {

const Value kNone = Value::none();
const Value kUndefined;
const Value kFalse = Value::boolean(false);

using Filter = Value (*)(const Value&, CallArgs&);

// jinja2's make_attrgetter: "a.b.0" looks up item a, then b, then 0.
Value attribute_of(const Value& item, const Value& attribute) {
  if (attribute.is_integral()) return get_item(item, attribute);
  Value v = item;
  const std::string& path = attribute.as_string();
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = get_item(v, digits ? Value::integer(std::stoll(part)) : Value::string(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// Sort key of sort/unique/min/max/dictsort: lower-cased strings unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (case_sensitive || !v.is_string()) return v;
  return Value::string(utf8_encode(to_lower(utf8_decode(v.as_string()))));
}

bool less_or_throw(const Value& a, const Value& b) {
  try {
    return less(a, b);
  } catch (const std::invalid_argument& e) {
    throw EvalError(e.what());
  }
}

Value f_length(const Value& v, CallArgs&) {
  switch (v.kind()) {
    case Value::Kind::undefined: return Value::integer(0);
    case Value::Kind::string: return Value::integer(static_cast<std::int64_t>(utf8_length(v.as_string())));
    case Value::Kind::list: return Value::integer(static_cast<std::int64_t>(v.as_list().size()));
    case Value::Kind::dict:
    case Value::Kind::ns: return Value::integer(static_cast<std::int64_t>(v.as_dict().items.size()));
    default: throw EvalError("object of type '" + v.type_name() + "' has no len()");
  }
}

Value f_trim(const Value& v, CallArgs& a) {
  const Value& chars = argument(a, 0, "chars", kNone);
  const bool given = !chars.is_none() && !chars.is_undefined();
  return Value::string(strip(v.str(), given ? chars.str() : "", true, true, given));
}

Value f_tojson(const Value& v, CallArgs& a) {
  JsonStyle style;
  const Value& indent = argument(a, 1, "indent", kNone);
  if (!indent.is_none()) style.indent = static_cast<int>(std::clamp<std::int64_t>(to_int(indent, "indent"), 0, 64));
  if (style.indent >= 0) style.item_separator = ",";
  const Value& separators = argument(a, 2, "separators", kNone);
  if (!separators.is_none()) {
    if (!separators.is_list() || separators.as_list().size() != 2 || !separators.as_list()[0].is_string() ||
        !separators.as_list()[1].is_string()) {
      throw EvalError("tojson separators must be a pair of strings");
    }
    style.item_separator = separators.as_list()[0].as_string();
    style.key_separator = separators.as_list()[1].as_string();
  }
  style.sort_keys = argument(a, 3, "sort_keys", kFalse).truthy();
  if (argument(a, 0, "ensure_ascii", kFalse).truthy()) throw EvalError("tojson(ensure_ascii=true) is not supported");
  try {
    return Value::string(to_json(v, style));
  } catch (const std::invalid_argument& e) {
    throw EvalError(e.what());
  }
}

Value f_default(const Value& v, CallArgs& a) {
  const bool boolean = argument(a, 1, "boolean", kFalse).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return argument(a, 0, "default_value", Value::string(""));
  return v;
}

Value f_join(const Value& v, CallArgs& a) {
  const std::string sep = argument(a, 0, "d", Value::string("")).str();
  const Value& attribute = argument(a, 1, "attribute", kNone);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    out += (first ? "" : sep) + (attribute.is_none() ? item : attribute_of(item, attribute)).str();
    first = false;
  }
  return Value::string(std::move(out));
}

Value f_first(const Value& v, CallArgs&) {
  const std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(const Value& v, CallArgs&) {
  const std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(const Value& v, CallArgs&) { return Value::list(iterate(v)); }
Value f_string(const Value& v, CallArgs&) { return Value::string(v.str()); }
Value f_safe(const Value& v, CallArgs&) { return v; }

Value f_upper(const Value& v, CallArgs&) { return Value::string(utf8_encode(to_upper(utf8_decode(v.str())))); }
Value f_lower(const Value& v, CallArgs&) { return Value::string(utf8_encode(to_lower(utf8_decode(v.str())))); }

Value f_capitalize(const Value& v, CallArgs&) {
  const std::u32string cps = utf8_decode(v.str());
  if (cps.empty()) return Value::string("");
  return Value::string(utf8_encode(to_upper(cps.substr(0, 1)) + to_lower(std::u32string_view(cps).substr(1))));
}

// jinja2's title: words start after runs of "-", whitespace, "(", "{", "[", "<".
Value f_title(const Value& v, CallArgs&) {
  std::u32string cps = utf8_decode(v.str());
  bool word_start = true;
  for (auto& c : cps) {
    const bool separator = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c);
    c = separator ? c : word_start ? upper_of(c) : lower_of(c);
    word_start = separator;
  }
  return Value::string(utf8_encode(cps));
}

Value f_replace(const Value& v, CallArgs& a) {
  CallArgs margs;
  margs.args = {argument(a, 0, "old", kUndefined), argument(a, 1, "new", kUndefined)};
  const Value& count = argument(a, 2, "count", kNone);
  if (!count.is_none()) margs.args.push_back(count);
  return method(Value::string(v.str()), "replace").as_function()(margs);
}

Value f_escape(const Value& v, CallArgs&) {
  std::string out;
  for (char c : v.str()) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return Value::string(std::move(out));
}

Value f_indent(const Value& v, CallArgs& a) {
  const Value width = argument(a, 0, "width", Value::integer(4));
  const std::string pad = width.is_string() ? width.as_string()
                                            : std::string(static_cast<std::size_t>(std::clamp<std::int64_t>(to_int(width, "width"), 0, 1024)), ' ');
  const bool first = argument(a, 1, "first", kFalse).truthy(), blank = argument(a, 2, "blank", kFalse).truthy();
  CallArgs none;
  const std::vector<Value> lines = method(Value::string(v.str() + "\n"), "splitlines").as_function()(none).as_list();
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i].as_string();
    if (i > 0) out += "\n";
    out += (i > 0 && (blank || !line.empty()) ? pad : "") + line;
  }
  return Value::string(first ? pad + out : out);
}

Value f_int(const Value& v, CallArgs& a) {
  const Value fallback = argument(a, 0, "default", Value::integer(0));
  const int base = static_cast<int>(to_int(argument(a, 1, "base", Value::integer(10)), "base"));
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.kind() == Value::Kind::floating) {
    return std::isfinite(v.as_double()) ? Value::integer(static_cast<std::int64_t>(v.as_double())) : fallback;
  }
  if (!v.is_string()) return fallback;
  const std::string s = strip(v.as_string(), "", true, true, false);
  try {
    std::size_t used = 0;
    const long long i = std::stoll(s, &used, base == 10 ? 10 : base);
    if (used == s.size()) return Value::integer(i);
    const double d = std::stod(s, &used);
    if (used == s.size() && std::isfinite(d)) return Value::integer(static_cast<std::int64_t>(d));
  } catch (const std::exception&) {
  }
  return fallback;
}

Value f_float(const Value& v, CallArgs& a) {
  const Value fallback = argument(a, 0, "default", Value::floating(0.0));
  if (v.is_number()) return Value::floating(v.as_double());
  if (!v.is_string()) return fallback;
  try {
    std::size_t used = 0;
    const std::string s = strip(v.as_string(), "", true, true, false);
    const double d = std::stod(s, &used);
    if (used == s.size()) return Value::floating(d);
  } catch (const std::exception&) {
  }
  return fallback;
}

Value f_abs(const Value& v, CallArgs&) {
  if (v.is_integral()) return Value::integer(std::llabs(v.as_int()));
  if (v.is_number()) return Value::floating(std::fabs(v.as_double()));
  throw EvalError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(const Value& v, CallArgs& a) {
  if (!v.is_number()) throw EvalError("round needs a number, not " + v.type_name());
  const double scale = std::pow(10.0, static_cast<double>(to_int(argument(a, 0, "precision", Value::integer(0)), "precision")));
  const std::string m = argument(a, 1, "method", Value::string("common")).str();
  const double x = v.as_double() * scale;
  const double r = m == "ceil" ? std::ceil(x) : m == "floor" ? std::floor(x) : std::nearbyint(x);
  if (m != "common" && m != "ceil" && m != "floor") throw EvalError("method must be common, ceil or floor");
  return Value::floating(r / scale);
}

Value f_reverse(const Value& v, CallArgs&) {
  if (v.is_string()) {
    std::u32string cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(utf8_encode(cps));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_items(const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) throw EvalError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.as_dict().items) out.push_back(Value::list({k, x}, true));
  return Value::list(std::move(out));
}

Value f_dictsort(const Value& v, CallArgs& a) {
  const bool case_sensitive = argument(a, 0, "case_sensitive", kFalse).truthy();
  const std::string by = argument(a, 1, "by", Value::string("key")).str();
  const bool reverse = argument(a, 2, "reverse", kFalse).truthy();
  std::vector<Value> items = f_items(v, a).as_list();
  const std::size_t at = by == "value" ? 1 : 0;
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(x.as_list()[at], case_sensitive), ky = sort_key(y.as_list()[at], case_sensitive);
    return reverse ? less_or_throw(ky, kx) : less_or_throw(kx, ky);
  });
  return Value::list(std::move(items));
}

Value f_sort(const Value& v, CallArgs& a) {
  const bool reverse = argument(a, 0, "reverse", kFalse).truthy();
  const bool case_sensitive = argument(a, 1, "case_sensitive", kFalse).truthy();
  const Value& attribute = argument(a, 2, "attribute", kNone);
  std::vector<Value> items = iterate(v);
  auto key = [&](const Value& x) { return sort_key(attribute.is_none() ? x : attribute_of(x, attribute), case_sensitive); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? less_or_throw(key(y), key(x)) : less_or_throw(key(x), key(y));
  });
  return Value::list(std::move(items));
}

Value f_unique(const Value& v, CallArgs& a) {
  const bool case_sensitive = argument(a, 0, "case_sensitive", kFalse).truthy();
  const Value& attribute = argument(a, 1, "attribute", kNone);
  std::vector<Value> out, seen;
  for (const Value& x : iterate(v)) {
    const Value k = sort_key(attribute.is_none() ? x : attribute_of(x, attribute), case_sensitive);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
      seen.push_back(k);
      out.push_back(x);
    }
  }
  return Value::list(std::move(out));
}

Value extreme(const Value& v, CallArgs& a, bool want_max) {
  const bool case_sensitive = argument(a, 0, "case_sensitive", kFalse).truthy();
  const Value& attribute = argument(a, 1, "attribute", kNone);
  const std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) { return sort_key(attribute.is_none() ? x : attribute_of(x, attribute), case_sensitive); };
  const Value* best = &items[0];
  for (const Value& x : items)
    if (want_max ? less_or_throw(key(*best), key(x)) : less_or_throw(key(x), key(*best))) best = &x;
  return *best;
}
Value f_max(const Value& v, CallArgs& a) { return extreme(v, a, true); }
Value f_min(const Value& v, CallArgs& a) { return extreme(v, a, false); }

Value f_sum(const Value& v, CallArgs& a) {
  const Value& attribute = argument(a, 0, "attribute", kNone);
  Value total = argument(a, 1, "start", Value::integer(0));
  for (const Value& x : iterate(v)) total = binary_op("+", total, attribute.is_none() ? x : attribute_of(x, attribute));
  return total;
}

// select / reject / selectattr / rejectattr: keep items whose test (or truth) is `keep`.
Value select_items(const Value& v, CallArgs& a, bool with_attribute, bool keep) {
  std::size_t next = 0;
  const Value attribute = with_attribute ? argument(a, next++, "attribute", kUndefined) : Value();
  CallArgs test_args;
  std::string test;
  if (a.args.size() > next) {
    test = a.args[next].str();
    test_args.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(next) + 1, a.args.end());
  }
  std::vector<Value> out;
  for (const Value& x : iterate(v)) {
    const Value subject = with_attribute ? attribute_of(x, attribute) : x;
    const bool passes = test.empty() ? subject.truthy() : apply_test(test, subject, test_args);
    if (passes == keep) out.push_back(x);
  }
  return Value::list(std::move(out));
}
Value f_select(const Value& v, CallArgs& a) { return select_items(v, a, false, true); }
Value f_reject(const Value& v, CallArgs& a) { return select_items(v, a, false, false); }
Value f_selectattr(const Value& v, CallArgs& a) { return select_items(v, a, true, true); }
Value f_rejectattr(const Value& v, CallArgs& a) { return select_items(v, a, true, false); }

Value f_map(const Value& v, CallArgs& a) {
  std::vector<Value> out;
  const Value& attribute = argument(a, 99, "attribute", kUndefined);
  if (!attribute.is_undefined()) {
    const Value& fallback = argument(a, 99, "default", kUndefined);
    for (const Value& x : iterate(v)) {
      Value y = attribute_of(x, attribute);
      out.push_back(y.is_undefined() && !fallback.is_undefined() ? fallback : y);
    }
    return Value::list(std::move(out));
  }
  if (a.args.empty()) throw EvalError("map needs a filter name or attribute=");
  const std::string filter = a.args[0].str();
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& x : iterate(v)) {
    CallArgs copy = rest;
    out.push_back(apply_filter(filter, x, copy));
  }
  return Value::list(std::move(out));
}

Value f_attr(const Value& v, CallArgs& a) { return get_attribute(v, argument(a, 0, "name", kUndefined).str()); }

Value f_batch(const Value& v, CallArgs& a) {
  const std::int64_t n = to_int(argument(a, 0, "linecount", kUndefined), "linecount");
  if (n <= 0) throw EvalError("batch size must be positive");
  const Value& fill = argument(a, 1, "fill_with", kNone);
  std::vector<Value> out, row;
  for (const Value& x : iterate(v)) {
    row.push_back(x);
    if (static_cast<std::int64_t>(row.size()) == n) out.push_back(Value::list(std::exchange(row, {})));
  }
  if (!row.empty()) {
    while (!fill.is_none() && static_cast<std::int64_t>(row.size()) < n) row.push_back(fill);
    out.push_back(Value::list(std::move(row)));
  }
  return Value::list(std::move(out));
}

Value f_center(const Value& v, CallArgs& a) {
  const std::string s = v.str();
  const auto width = static_cast<std::size_t>(std::clamp<std::int64_t>(to_int(argument(a, 0, "width", Value::integer(80)), "width"), 0, 1 << 16));
  const std::size_t len = utf8_length(s);
  if (width <= len) return Value::string(s);
  const std::size_t total = width - len, left = total / 2 + (total & width & 1);  // Python's str.center
  return Value::string(std::string(left, ' ') + s + std::string(total - left, ' '));
}

Value f_wordcount(const Value& v, CallArgs&) {
  std::int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(v.str())) {
    const bool word = c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c > 0x7F && !is_space(c));
    n += word && !in_word;
    in_word = word;
  }
  return Value::integer(n);
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> table = {
      {"abs", f_abs},         {"attr", f_attr},       {"batch", f_batch},         {"capitalize", f_capitalize},
      {"center", f_center},   {"count", f_length},    {"d", f_default},           {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},      {"escape", f_escape},       {"first", f_first},
      {"float", f_float},     {"indent", f_indent},   {"int", f_int},             {"items", f_items},
      {"join", f_join},       {"last", f_last},       {"length", f_length},       {"list", f_list},
      {"lower", f_lower},     {"map", f_map},         {"max", f_max},             {"min", f_min},
      {"reject", f_reject},   {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round},     {"safe", f_safe},       {"select", f_select},       {"selectattr", f_selectattr},
      {"sort", f_sort},       {"string", f_string},   {"sum", f_sum},             {"title", f_title},
      {"tojson", f_tojson},   {"trim", f_trim},       {"unique", f_unique},       {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

Value apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
  const auto it = filters().find(name);
  if (it == filters().end()) throw EvalError("no filter named '" + name + "'");
  return it->second(operand, args);
}

}  // namespace fhellm::chat::jinja
