// The renderer of the Jinja subset (jinja.h): statements, expressions with Python's semantics (truthiness, equality,
// arithmetic, slicing), Jinja's Undefined (prints as "", is false, iterates as empty, but an attribute of it or
// arithmetic on it is an error), and scoping as Jinja scopes: a {% for %} body has its own variables (a `set` there is
// gone after the iteration; namespace() attributes are how templates carry state out of a loop).
#include <algorithm>
#include <cmath>
#include <ctime>

#include "common/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_ops.h"

namespace rlhf::jinja {
namespace {

class Renderer {
 public:
  Renderer(const Template& tmpl, const Dict& variables) : t_(tmpl) { frames_.push_back(variables); }

  std::string run() {
    exec(t_.body);
    return std::move(out_);
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  [[noreturn]] void error(size_t position, const std::string& message) const {
    fail(where(t_.source, position) + ": " + message);
  }

  Value lookup(const std::string& name) const {
    for (auto frame = frames_.rbegin(); frame != frames_.rend(); ++frame)
      for (const auto& [key, value] : *frame)
        if (key == name) return value;
    if (name == "raise_exception" || name == "strftime_now" || name == "namespace" || name == "range" || name == "dict") {
      Value function;
      function.kind = Value::Kind::kFunction, function.text = name;
      return function;
    }
    return Value::undefined(name);
  }

  void assign(const std::string& name, Value value) {
    for (auto& [key, existing] : frames_.back())
      if (key == name) {
        existing = std::move(value);
        return;
      }
    frames_.back().emplace_back(name, std::move(value));
  }

  Flow exec(const Body& body) {
    for (const NodePtr& node : body) {
      Flow flow = exec(*node);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow exec(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kText: out_ += n.text; return Flow::kNormal;
      case Node::Kind::kOutput: out_ += to_string(eval(*n.expr)); return Flow::kNormal;
      case Node::Kind::kIf:
        for (const auto& [condition, body] : n.branches)
          if (truthy(eval(*condition))) return exec(body);
        return exec(n.else_body);
      case Node::Kind::kFor: return exec_for(n);
      case Node::Kind::kSet: {
        Value value = eval(*n.expr);
        if (n.targets.size() == 1) {
          assign(n.targets[0], std::move(value));
        } else {
          Value object = lookup(n.targets[0]);
          if (!object.is(Value::Kind::kNamespace))
            error(n.position, "{% set " + n.targets[0] + "." + n.targets[1] + " %} needs a namespace(), found " + type_name(object));
          set_key(*object.dict, n.targets[1], std::move(value));
        }
        return Flow::kNormal;
      }
      case Node::Kind::kBreak: return Flow::kBreak;
      case Node::Kind::kContinue: return Flow::kContinue;
      case Node::Kind::kBlock: return exec(n.body);
    }
    return Flow::kNormal;
  }

  void bind_targets(const Node& n, const Value& item) {
    if (n.targets.size() == 1) {
      assign(n.targets[0], item);
      return;
    }
    if (!item.is(Value::Kind::kList) || item.list->size() != n.targets.size())
      error(n.position, "cannot unpack " + type_name(item) + " into " + std::to_string(n.targets.size()) + " loop variables");
    for (size_t k = 0; k < n.targets.size(); ++k) assign(n.targets[k], (*item.list)[k]);
  }

  Flow exec_for(const Node& n) {
    List items = iterate(eval(*n.expr), n.expr->position);
    if (n.condition) {
      List kept;
      for (const Value& item : items) {
        frames_.emplace_back();
        bind_targets(n, item);
        bool keep = truthy(eval(*n.condition));
        frames_.pop_back();
        if (keep) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      frames_.emplace_back();
      Flow flow = exec(n.else_body);
      frames_.pop_back();
      return flow;
    }
    const int64_t length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      frames_.emplace_back();
      bind_targets(n, items[static_cast<size_t>(i)]);
      Dict loop = {{"index0", Value::from(i)},
                   {"index", Value::from(i + 1)},
                   {"revindex0", Value::from(length - i - 1)},
                   {"revindex", Value::from(length - i)},
                   {"first", Value::from(i == 0)},
                   {"last", Value::from(i == length - 1)},
                   {"length", Value::from(length)},
                   {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("loop.previtem")},
                   {"nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)] : Value::undefined("loop.nextitem")}};
      assign("loop", Value::from(std::move(loop)));
      Flow flow = exec(n.body);
      frames_.pop_back();
      if (flow == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  List iterate(const Value& v, size_t position) const {
    switch (v.kind) {
      case Value::Kind::kUndefined: return {};
      case Value::Kind::kList: return *v.list;
      case Value::Kind::kDict: {
        List keys;
        for (const auto& entry : *v.dict) keys.push_back(Value::from(entry.first));
        return keys;
      }
      case Value::Kind::kString: return characters(v.text);
      default: error(position, "cannot iterate over " + type_name(v));
    }
  }

  std::vector<Value> eval_args(const Expr& e, size_t from) {
    std::vector<Value> args;
    for (size_t k = from; k < e.args.size(); ++k) args.push_back(eval(*e.args[k]));
    return args;
  }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.value;
      case Expr::Kind::kName: return lookup(e.name);
      case Expr::Kind::kList: return Value::from(eval_args(e, 0));
      case Expr::Kind::kDict: {
        Dict dict;
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          Value key = eval(*e.args[k]);
          if (!key.is(Value::Kind::kString)) error(e.args[k]->position, "dict keys must be strings, found " + type_name(key));
          set_key(dict, key.text, eval(*e.args[k + 1]));
        }
        return Value::from(std::move(dict));
      }
      case Expr::Kind::kAttribute: {
        Value object = eval(*e.args[0]);
        if (object.is(Value::Kind::kUndefined)) error(e.position, undefined_message(object) + " (reading ." + e.name + ")");
        const Value* found = object.find(e.name);
        return found ? *found : Value::undefined(e.name);
      }
      case Expr::Kind::kIndex: {
        Value object = eval(*e.args[0]);
        Value key = eval(*e.args[1]);
        if (object.is(Value::Kind::kUndefined)) error(e.position, undefined_message(object) + " (reading [" + to_string(key) + "])");
        return index(object, key);
      }
      case Expr::Kind::kSlice: {
        Value object = eval(*e.args[0]);
        auto bound = [&](size_t k) -> const Value {
          return e.args[k] ? eval(*e.args[k]) : Value::none();
        };
        return slice(object, bound(1), bound(2), bound(3), e.position, t_.source);
      }
      case Expr::Kind::kCall: return call(e);
      case Expr::Kind::kMethod: {
        Value object = eval(*e.args[0]);
        return call_method(object, e.name, eval_args(e, 1), eval_kwargs(e), e.position, t_.source);
      }
      case Expr::Kind::kFilter: {
        Value value = eval(*e.args[0]);
        return apply_filter(e.name, value, eval_args(e, 1), eval_kwargs(e), e.position, t_.source);
      }
      case Expr::Kind::kTest: {
        Value value = eval(*e.args[0]);
        bool result = apply_test(e.name, value, eval_args(e, 1), e.position, t_.source);
        return Value::from(e.negated ? !result : result);
      }
      case Expr::Kind::kUnary: {
        Value operand = eval(*e.args[0]);
        if (e.name == "not") return Value::from(!truthy(operand));
        return unary(e.name, operand, e.position, t_.source);
      }
      case Expr::Kind::kBinary: {
        if (e.name == "and" || e.name == "or") {  // Python returns the deciding operand
          Value left = eval(*e.args[0]);
          if (truthy(left) == (e.name == "or")) return left;
          return eval(*e.args[1]);
        }
        Value left = eval(*e.args[0]);
        Value right = eval(*e.args[1]);
        return binary(e.name, left, right, e.position, t_.source);
      }
      case Expr::Kind::kCondition:
        if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("if-expression without else");
    }
    return Value::undefined();
  }

  Dict eval_kwargs(const Expr& e) {
    Dict kwargs;
    for (const auto& [name, value] : e.kwargs) kwargs.emplace_back(name, eval(*value));
    return kwargs;
  }

  Value call(const Expr& e) {
    Value function = lookup(e.name);
    if (!function.is(Value::Kind::kFunction))
      error(e.position, "'" + e.name + "' is " + type_name(function) + " here, not a function");
    std::vector<Value> args = eval_args(e, 0);
    Dict kwargs = eval_kwargs(e);
    if (e.name == "raise_exception") {
      // transformers raises jinja2.TemplateError(message): the template's own words reach the user.
      fail("chat template: " + (args.empty() ? std::string() : to_string(args[0])) + " (raised at " +
           where(t_.source, e.position) + ")");
    }
    if (e.name == "strftime_now") {
      if (args.size() != 1 || !args[0].is(Value::Kind::kString)) error(e.position, "strftime_now takes one format string");
      std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buffer[256];
      size_t n = std::strftime(buffer, sizeof buffer, args[0].text.c_str(), &local);
      return Value::from(std::string(buffer, n));
    }
    if (e.name == "namespace" || e.name == "dict") {
      Dict attributes;
      for (const Value& positional : args) {
        if (!positional.is(Value::Kind::kDict)) error(e.position, e.name + "() takes a dict or name=value arguments");
        for (const auto& [k, v] : *positional.dict) set_key(attributes, k, v);
      }
      for (auto& [k, v] : kwargs) set_key(attributes, k, v);
      Value result = Value::from(std::move(attributes));
      if (e.name == "namespace") result.kind = Value::Kind::kNamespace;
      return result;
    }
    // range(stop) / range(start, stop[, step])
    std::vector<int64_t> bounds;
    for (const Value& a : args) {
      if (!a.is(Value::Kind::kInt)) error(e.position, "range() takes integers, found " + type_name(a));
      bounds.push_back(a.integer);
    }
    if (bounds.empty() || bounds.size() > 3) error(e.position, "range() takes 1 to 3 integers");
    int64_t start = bounds.size() == 1 ? 0 : bounds[0], stop = bounds.size() == 1 ? bounds[0] : bounds[1];
    int64_t step = bounds.size() == 3 ? bounds[2] : 1;
    if (step == 0) error(e.position, "range() step must not be zero");
    List items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      items.push_back(Value::from(i));
      if (items.size() > 100000) error(e.position, "range() longer than 100000 items");
    }
    return Value::from(std::move(items));
  }

  const Template& t_;
  std::vector<Dict> frames_;
  std::string out_;
};

}  // namespace

std::string render(const Template& tmpl, const Dict& variables) { return Renderer(tmpl, variables).run(); }

}  // namespace rlhf::jinja
