#include "chat/jinja_interpreter.h"

#include <map>

#include "chat/jinja_builtins.h"

namespace fhellm::chat::jinja {
namespace {

class Scope {
 public:
  explicit Scope(const Scope* parent) : parent_(parent) {}
  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent_) {
      const auto it = s->vars_.find(name);
      if (it != s->vars_.end()) return &it->second;
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) { vars_[name] = std::move(v); }

 private:
  const Scope* parent_;
  std::map<std::string, Value> vars_;
};

enum class Flow { normal, break_loop, continue_loop };

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, const Scope& top) : limits_(limits), top_(top) {}

  Flow exec(const Body& body, Scope& scope, std::string& out) {
    for (const StmtPtr& s : body) {
      const Flow f = exec(*s, scope, out);
      if (f != Flow::normal) return f;
      if (out.size() > limits_.max_output_bytes) {
        EvalError e("output larger than " + std::to_string(limits_.max_output_bytes) + " bytes");
        e.line = s->line;
        throw e;
      }
    }
    return Flow::normal;
  }

 private:
  Flow exec(const Stmt& s, Scope& scope, std::string& out) {
    switch (s.kind) {
      case Stmt::Kind::text: out += s.text; return Flow::normal;
      case Stmt::Kind::print: out += eval(*s.expr, scope).str(); return Flow::normal;
      case Stmt::Kind::if_:
        for (const auto& [cond, body] : s.branches)
          if (eval(*cond, scope).truthy()) return exec(body, scope, out);
        return exec(s.else_body, scope, out);
      case Stmt::Kind::for_: exec_for(s, scope, out); return Flow::normal;
      case Stmt::Kind::set: assign(s.target, eval(*s.expr, scope), scope, s.line); return Flow::normal;
      case Stmt::Kind::set_block: {
        std::string captured;
        exec(s.body, scope, captured);
        assign(s.target, Value::string(std::move(captured)), scope, s.line);
        return Flow::normal;
      }
      case Stmt::Kind::macro: scope.set(s.text, make_macro(s)); return Flow::normal;
      case Stmt::Kind::break_: return Flow::break_loop;
      case Stmt::Kind::continue_: return Flow::continue_loop;
      case Stmt::Kind::generation: return exec(s.body, scope, out);
    }
    return Flow::normal;
  }

  void assign(const Target& t, Value v, Scope& scope, int line) {
    try {
      if (!t.ns_attr.empty()) {
        const Value* ns = scope.find(t.names[0]);
        if (!ns || !ns->is_ns()) throw EvalError("cannot assign attribute on non-namespace object");
        ns->as_dict().set(Value::string(t.ns_attr), std::move(v));
      } else if (t.names.size() == 1) {
        scope.set(t.names[0], std::move(v));
      } else {
        const std::vector<Value> items = iterate(v);
        if (items.size() != t.names.size()) {
          throw EvalError("cannot unpack " + std::to_string(items.size()) + " values into " +
                          std::to_string(t.names.size()) + " names");
        }
        for (std::size_t i = 0; i < items.size(); ++i) scope.set(t.names[i], items[i]);
      }
    } catch (EvalError& e) {
      if (!e.line) e.line = line;
      throw;
    }
  }

  // The `loop` variable. One dict per loop, updated in place on each iteration
  // unless the template kept a reference to it (then a fresh one).
  class LoopVariable {
   public:
    explicit LoopVariable(const std::vector<Value>& items) : items_(items), index_(std::make_shared<std::int64_t>(0)) {}
    Value at(std::size_t i) {
      if (!dict_ || dict_.use_count() > 1) dict_ = make();
      *index_ = static_cast<std::int64_t>(i);
      const auto n = static_cast<std::int64_t>(items_.size()), k = static_cast<std::int64_t>(i);
      auto& e = dict_->items;
      e[0].second = Value::integer(k + 1);
      e[1].second = Value::integer(k);
      e[2].second = Value::integer(n - k);
      e[3].second = Value::integer(n - k - 1);
      e[4].second = Value::boolean(k == 0);
      e[5].second = Value::boolean(k == n - 1);
      e[9].second = k > 0 ? items_[i - 1] : Value::undefined("'loop' has no previtem on the first iteration");
      e[10].second = k + 1 < n ? items_[i + 1] : Value::undefined("'loop' has no nextitem on the last iteration");
      return Value::dict(dict_);
    }

   private:
    std::shared_ptr<Dict> make() const {
      auto d = std::make_shared<Dict>();
      for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                              "previtem", "nextitem", "cycle"}) {
        d->items.emplace_back(Value::string(key), Value());
      }
      d->items[6].second = Value::integer(static_cast<std::int64_t>(items_.size()));
      d->items[7].second = Value::integer(1);
      d->items[8].second = Value::integer(0);
      d->items[11].second = Value::callable(
          [index = index_](CallArgs& a) -> Value {
            if (a.args.empty()) throw EvalError("no items for cycling given");
            return a.args[static_cast<std::size_t>(*index) % a.args.size()];
          },
          "loop.cycle");
      return d;
    }
    const std::vector<Value>& items_;
    std::shared_ptr<std::int64_t> index_;
    std::shared_ptr<Dict> dict_;
  };

  void exec_for(const Stmt& s, Scope& scope, std::string& out) {
    std::vector<Value> items;
    try {
      items = iterate(eval(*s.expr, scope));
    } catch (EvalError& e) {
      if (!e.line) e.line = s.line;
      throw;
    }
    if (s.filter) {  // `for x in xs if cond`: the loop sees only the items that pass
      std::vector<Value> kept;
      for (const Value& item : items) {
        Scope probe(&scope);
        assign(s.target, item, probe, s.line);
        if (eval(*s.filter, probe).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec(s.else_body, scope, out);
      return;
    }
    LoopVariable loop(items);
    for (std::size_t i = 0; i < items.size(); ++i) {
      Scope iteration(&scope);
      assign(s.target, items[i], iteration, s.line);
      iteration.set("loop", loop.at(i));
      if (exec(s.body, iteration, out) == Flow::break_loop) break;
    }
  }

  Value make_macro(const Stmt& s) {
    return Value::callable(
        [this, &s](CallArgs& a) {
          if (a.args.size() > s.params.size()) {
            throw EvalError("macro '" + s.text + "' takes " + std::to_string(s.params.size()) + " arguments");
          }
          Scope scope(&top_);
          for (std::size_t i = 0; i < s.params.size(); ++i) {
            const auto& [name, fallback] = s.params[i];
            // A copy: argument() may return its fallback, a temporary of this line.
            const Value given = argument(a, i, name.c_str(), Value());
            scope.set(name, !given.is_undefined() || !fallback ? given : eval(*fallback, scope));
          }
          std::string out;
          exec(s.body, scope, out);
          return Value::string(std::move(out));
        },
        s.text);
  }

  Value eval(const Expr& e, Scope& scope) {
    try {
      return eval_node(e, scope);
    } catch (EvalError& err) {
      if (!err.line) err.line = e.line;
      throw;
    }
  }

  CallArgs eval_args(const Expr& e, Scope& scope) {
    CallArgs a;
    for (const ExprPtr& arg : e.items) a.args.push_back(eval(*arg, scope));
    for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v, scope));
    return a;
  }

  Value call(const Value& f, CallArgs& args) {
    require_defined(f);
    if (!f.is_callable()) throw EvalError("'" + f.type_name() + "' object is not callable");
    if (++depth_ > limits_.max_call_depth) {
      throw EvalError("calls nested deeper than " + std::to_string(limits_.max_call_depth));
    }
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    return f.as_function()(args);
  }

  Value eval_node(const Expr& e, Scope& scope) {
    using K = Expr::Kind;
    switch (e.kind) {
      case K::literal: return e.value;
      case K::name: {
        const Value* v = scope.find(e.name);
        return v ? *v : Value::undefined("'" + e.name + "' is undefined");
      }
      case K::list:
      case K::tuple: {
        std::vector<Value> items;
        for (const ExprPtr& i : e.items) items.push_back(eval(*i, scope));
        return Value::list(std::move(items), e.kind == K::tuple);
      }
      case K::dict: {
        auto d = std::make_shared<Dict>();
        for (std::size_t i = 0; i + 1 < e.items.size(); i += 2) d->set(eval(*e.items[i], scope), eval(*e.items[i + 1], scope));
        return Value::dict(std::move(d));
      }
      case K::get_attr: return get_attribute(eval(*e.object, scope), e.name);
      case K::get_item: return get_item(eval(*e.object, scope), eval(*e.items[0], scope));
      case K::slice: {
        Value parts[3];
        for (int i = 0; i < 3; ++i)
          if (e.items[static_cast<std::size_t>(i)]) parts[i] = eval(*e.items[static_cast<std::size_t>(i)], scope);
        return slice(eval(*e.object, scope), parts[0], parts[1], parts[2]);
      }
      case K::call: {
        const Value f = eval(*e.object, scope);
        CallArgs args = eval_args(e, scope);
        return call(f, args);
      }
      case K::filter: {
        const Value operand = eval(*e.object, scope);
        CallArgs args = eval_args(e, scope);
        return apply_filter(e.name, operand, args);
      }
      case K::test: {
        const Value operand = eval(*e.object, scope);
        CallArgs args = eval_args(e, scope);
        return Value::boolean(apply_test(e.name, operand, args) != e.negated);
      }
      case K::unary: {
        const Value v = eval(*e.items[0], scope);
        if (e.name == "not") return Value::boolean(!v.truthy());
        if (e.name == "-") return negate(v);
        require_defined(v);
        if (!v.is_number()) throw EvalError("bad operand type for unary +: '" + v.type_name() + "'");
        return v.is_integral() ? Value::integer(v.as_int()) : v;
      }
      case K::binary: return eval_binary(e, scope);
      case K::compare: {
        Value left = eval(*e.items[0], scope);
        for (std::size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.items[i + 1], scope);
          if (!compare(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case K::condition:
        if (eval(*e.items[0], scope).truthy()) return eval(*e.items[1], scope);
        return e.items[2] ? eval(*e.items[2], scope) : Value::undefined("the condition was false and there is no else");
    }
    return Value();
  }

  Value eval_binary(const Expr& e, Scope& scope) {
    Value a = eval(*e.items[0], scope);
    if (e.name == "and") return a.truthy() ? eval(*e.items[1], scope) : a;
    if (e.name == "or") return a.truthy() ? a : eval(*e.items[1], scope);
    return binary_op(e.name, a, eval(*e.items[1], scope));
  }

  const RenderLimits& limits_;
  const Scope& top_;
  int depth_ = 0;
};

}  // namespace

std::string render(const Body& body, const Dict& variables, const Dict& globals, const RenderLimits& limits) {
  Scope global_scope(nullptr);
  for (const auto& [k, v] : globals.items) global_scope.set(k.as_string(), v);
  Scope top(&global_scope);
  for (const auto& [k, v] : variables.items) top.set(k.as_string(), v);
  Interpreter interpreter(limits, top);
  std::string out;
  interpreter.exec(body, top, out);
  return out;
}

}  // namespace fhellm::chat::jinja
