// A Jinja subset for chat templates: the values, the syntax tree, the parser and the renderer behind ChatTemplate
// (tokenizer/chat_template.h, the only intended user). It renders as transformers renders a chat_template: Jinja 3 with
// trim_blocks and lstrip_blocks on, a single trailing newline of the template dropped, loop controls ({% break %},
// {% continue %}) on, and the globals raise_exception, strftime_now and namespace.
//
// The subset (enough for the templates of Qwen2.5, Llama-3.x, Mistral, Gemma-2, Phi-3, SmolLM2, Zephyr):
//   statements   {% if %}/{% elif %}/{% else %}, {% for a[, b] in x [if cond] %} ... {% else %} ... {% endfor %} with
//                loop.index, loop.index0, loop.first, loop.last, loop.length, loop.revindex(0), loop.previtem,
//                loop.nextitem; {% set x = e %}, {% set ns.attr = e %}; {% break %}, {% continue %};
//                {% generation %} ... {% endgeneration %} (rendered as its body); comments {# #}; whitespace control
//                with "-" (and "+" to keep lstrip_blocks off) on every tag.
//   expressions  literals (strings with Python escapes, ints, floats, true/false/none in either case, lists, dicts,
//                tuples), names, .attr, [index], [a:b:c] slices, calls of the globals and of a few methods (items,
//                keys, values, get, strip/lstrip/rstrip, split, startswith/endswith, upper/lower, replace, title,
//                capitalize), unary - + not, ** * / // % + - ~, comparisons == != < <= > >= in / not in,
//                and/or, x if c else y, filters (see kFilters in jinja_parse.cpp) and tests (kTests there).
// Anything else (macros, includes, {% raw %}, unknown filters, tests, functions or methods, ...) is refused when the
// template is parsed, with an rlhf::Error naming the construct and its line:column.
// Known differences from Python that no supported template meets: upper/lower/title/capitalize change ASCII letters
// only, a tuple prints as a list ("[1, 2]", not "(1, 2)"), and tojson writes an undefined value as null.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rlhf::jinja {

struct Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // insertion order, as Python dicts (tojson keeps it)

// A Jinja value: Python's None/bool/int/float/str/list/dict, Jinja's Undefined, and a namespace() object (a dict whose
// attributes `set` may change from inside a loop), and a global function (so that `strftime_now is defined` holds).
// Lists, dicts and namespaces are shared, as Python objects are.
struct Value {
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kFunction };
  Kind kind = Kind::kUndefined;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string text;                 // kString; kFunction: its name; kUndefined: the name not found (for messages)
  std::shared_ptr<List> list;       // kList
  std::shared_ptr<Dict> dict;       // kDict, kNamespace

  static Value undefined(const std::string& name = "") { Value v; v.text = name; return v; }
  static Value none() { Value v; v.kind = Kind::kNone; return v; }
  static Value from(bool b) { Value v; v.kind = Kind::kBool; v.boolean = b; return v; }
  static Value from(int64_t i) { Value v; v.kind = Kind::kInt; v.integer = i; return v; }
  static Value from(double d) { Value v; v.kind = Kind::kFloat; v.number = d; return v; }
  static Value from(std::string s) { Value v; v.kind = Kind::kString; v.text = std::move(s); return v; }
  static Value from(const char* s) { return from(std::string(s)); }
  static Value from(List l) { Value v; v.kind = Kind::kList; v.list = std::make_shared<List>(std::move(l)); return v; }
  static Value from(Dict d) { Value v; v.kind = Kind::kDict; v.dict = std::make_shared<Dict>(std::move(d)); return v; }

  bool is(Kind k) const { return kind == k; }
  bool is_mapping() const { return kind == Kind::kDict || kind == Kind::kNamespace; }
  const Value* find(const std::string& key) const;  // a key of a dict or namespace; nullptr when absent
};

struct Expr;
struct Node;
using ExprPtr = std::shared_ptr<const Expr>;
using NodePtr = std::shared_ptr<const Node>;
using Body = std::vector<NodePtr>;

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // args (a tuple is a list here)
    kDict,       // args: key, value, key, value, ...
    kAttribute,  // args[0].name
    kIndex,      // args[0][args[1]]
    kSlice,      // args[0][args[1]:args[2]:args[3]] (null when omitted)
    kCall,       // name(args, kwargs): a global function; args[0] is not used
    kMethod,     // args[0].name(args[1..], kwargs)
    kFilter,     // args[0] | name(args[1..], kwargs)
    kTest,       // args[0] is [not] name(args[1..])
    kUnary,      // name (-, +, not) args[0]
    kBinary,     // args[0] name args[1]: or and == != < <= > >= in notin + - * / // % ** ~
    kCondition,  // args[1] if args[0] else args[2] (args[2] null: undefined)
  };
  Kind kind = Kind::kLiteral;
  size_t position = 0;  // byte offset in the template, for messages
  std::string name;
  bool negated = false;  // kTest: "is not"
  Value value;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet, kBreak, kContinue, kBlock };
  Kind kind = Kind::kText;
  size_t position = 0;
  std::string text;                                // kText
  ExprPtr expr;                                    // kOutput, kSet (value), kFor (iterable)
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: condition and body per if/elif
  Body body, else_body;                            // kFor, kBlock (body); kIf, kFor (else)
  std::vector<std::string> targets;                // kFor: loop variables; kSet: name (and attribute)
  ExprPtr condition;                               // kFor: the "if" filter
};

struct Template {
  std::string source;  // after newline normalisation, for line:column in messages
  Body body;
};

// Parses a template; rlhf::Error "chat_template:LINE:COLUMN: ..." for a syntax error or an unsupported construct.
std::shared_ptr<const Template> parse(const std::string& source);

// "chat_template:LINE:COLUMN" for a byte offset of `source`.
std::string where(const std::string& source, size_t position);

// Renders with the given variables (plus the globals); rlhf::Error for raise_exception (with the template's message) and
// for operations Jinja would refuse (e.g. adding a string to an undefined value), naming the position.
std::string render(const Template& tmpl, const Dict& variables);

// Python's str() of a value (what {{ x }} prints), and json.dumps(x, ensure_ascii=False, indent=indent) (tojson).
std::string to_string(const Value& value);
std::string to_json(const Value& value, int indent = -1);

}  // namespace rlhf::jinja
