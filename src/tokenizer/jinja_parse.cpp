// The parser of the Jinja subset (jinja.h). The grammar follows Jinja's own parser (jinja2/parser.py), so that
// precedence matches: filters and tests bind tighter than any operator ("a + b | trim" trims b), "not" is looser than
// comparisons.
#include <algorithm>
#include <cstring>
#include <set>

#include "common/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_lex.h"

namespace rlhf::jinja {
namespace {

// The filters, tests, globals and methods the renderer implements (jinja_render.cpp); anything else is refused here.
const std::set<std::string> kFilters = {"trim", "length", "count", "default", "d", "upper", "lower", "capitalize",
                                        "title", "tojson", "string", "list", "items", "join", "first", "last",
                                        "select", "reject", "selectattr", "rejectattr", "map", "replace", "int",
                                        "float", "abs", "safe", "reverse"};
const std::set<std::string> kTests = {"defined", "undefined", "none", "string", "number", "integer", "float",
                                      "boolean", "mapping", "iterable", "sequence", "true", "false", "equalto", "eq",
                                      "==", "ne", "!=", "odd", "even", "divisibleby", "in", "lower", "upper"};
const std::set<std::string> kFunctions = {"raise_exception", "strftime_now", "namespace", "range", "dict"};
const std::set<std::string> kMethods = {"items", "keys", "values", "get", "strip", "lstrip", "rstrip", "split",
                                        "startswith", "endswith", "upper", "lower", "replace", "title", "capitalize"};

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::kText: return "text";
    case Tok::kVarBegin: return "'{{'";
    case Tok::kVarEnd: return "'}}'";
    case Tok::kBlockBegin: return "'{%'";
    case Tok::kBlockEnd: return "'%}'";
    case Tok::kString: return "a string";
    case Tok::kInt: case Tok::kFloat: return "the number " + t.text;
    case Tok::kEnd: return "the end of the template";
    default: return "'" + t.text + "'";
  }
}

class Parser {
 public:
  Parser(const std::string& source, std::vector<Token> tokens) : s_(source), t_(std::move(tokens)) {}

  Body parse_template() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(i_++, t_.size() - 1)]; }
  bool at_op(const char* op, size_t ahead = 0) const { return peek(ahead).type == Tok::kOp && peek(ahead).text == op; }
  bool at_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == Tok::kName && peek(ahead).text == name;
  }
  bool accept_op(const char* op) { return at_op(op) ? (++i_, true) : false; }
  bool accept_name(const char* name) { return at_name(name) ? (++i_, true) : false; }

  [[noreturn]] void error(const Token& at, const std::string& expected) { fail(where(s_, at.position), expected, describe(at)); }
  [[noreturn]] void unsupported(size_t position, const std::string& what, const std::string& supported) {
    fail(where(s_, position) + ": unsupported Jinja construct " + what + " (the chat template subset has " + supported + ")");
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) error(peek(), std::string("'") + op + "'");
  }
  std::string expect_name() {
    if (peek().type != Tok::kName) error(peek(), "a name");
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != Tok::kBlockEnd) error(peek(), "'%}'");
    ++i_;
  }

  // Nodes until a {% KEYWORD %} in `ends` (its name is stored in `end`, the tag left open after the keyword) or the
  // end of the template (only when `ends` is empty).
  Body parse_body(const std::set<std::string>& ends, std::string& end) {
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::kEnd) {
        if (!ends.empty()) error(t, "{% " + *ends.begin() + " %}");
        return body;
      }
      if (t.type == Tok::kText) {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kText, node->text = t.text, node->position = t.position;
        body.push_back(node), ++i_;
      } else if (t.type == Tok::kVarBegin) {
        ++i_;
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::kOutput, node->position = t.position, node->expr = parse_expression();
        if (peek().type != Tok::kVarEnd) error(peek(), "'}}'");
        ++i_;
        body.push_back(node);
      } else if (t.type == Tok::kBlockBegin) {
        const Token& keyword = peek(1);
        if (keyword.type == Tok::kName && ends.count(keyword.text)) {
          i_ += 2;
          end = keyword.text;
          return body;
        }
        ++i_;
        body.push_back(parse_statement(t.position));
      } else {
        error(t, "text or a tag");
      }
    }
  }

  NodePtr parse_statement(size_t position) {
    const Token& keyword = peek();
    if (keyword.type != Tok::kName) error(keyword, "a statement name");
    const std::string name = next().text;
    auto node = std::make_shared<Node>();
    node->position = position;
    std::string end;
    if (name == "if") {
      node->kind = Node::Kind::kIf;
      ExprPtr condition = parse_expression();
      expect_block_end();
      while (true) {
        Body body = parse_body({"elif", "else", "endif"}, end);
        node->branches.emplace_back(condition, std::move(body));
        if (end == "elif") {
          condition = parse_expression();
          expect_block_end();
          continue;
        }
        if (end == "else") {
          expect_block_end();
          node->else_body = parse_body({"endif"}, end);
        }
        expect_block_end();
        return node;
      }
    }
    if (name == "for") {
      node->kind = Node::Kind::kFor;
      node->targets.push_back(expect_name());
      while (accept_op(",")) node->targets.push_back(expect_name());
      if (!accept_name("in")) error(peek(), "'in'");
      node->expr = parse_or();  // no "x if c else y" here: a trailing "if" filters the loop
      if (accept_name("if")) node->condition = parse_or();
      if (at_name("recursive")) unsupported(peek().position, "'recursive' loops", "plain for loops");
      expect_block_end();
      node->body = parse_body({"else", "endfor"}, end);
      if (end == "else") {
        expect_block_end();
        node->else_body = parse_body({"endfor"}, end);
      }
      expect_block_end();
      return node;
    }
    if (name == "set") {
      node->kind = Node::Kind::kSet;
      node->targets.push_back(expect_name());
      if (accept_op(".")) node->targets.push_back(expect_name());
      if (peek().type == Tok::kBlockEnd) unsupported(position, "'{% set %}...{% endset %}' (block assignment)", "{% set x = value %}");
      if (at_op(",")) unsupported(position, "'{% set a, b = ... %}' (tuple assignment)", "{% set x = value %}");
      expect_op("=");
      node->expr = parse_expression();
      expect_block_end();
      return node;
    }
    if (name == "break" || name == "continue") {
      node->kind = name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      expect_block_end();
      return node;
    }
    if (name == "generation") {  // transformers' assistant-mask marker: renders its body
      node->kind = Node::Kind::kBlock;
      expect_block_end();
      node->body = parse_body({"endgeneration"}, end);
      expect_block_end();
      return node;
    }
    unsupported(position, "'{% " + name + " %}'", "if/elif/else, for/else, set, break, continue, generation");
  }

  ExprPtr make(Expr::Kind kind, size_t position, std::string name, std::vector<ExprPtr> args) {
    auto e = std::make_shared<Expr>();
    e->kind = kind, e->position = position, e->name = std::move(name), e->args = std::move(args);
    return e;
  }

  ExprPtr parse_expression() {
    ExprPtr value = parse_or();
    while (at_name("if")) {
      size_t position = next().position;
      ExprPtr condition = parse_or();
      ExprPtr otherwise = accept_name("else") ? parse_expression() : nullptr;
      value = make(Expr::Kind::kCondition, position, "if", {condition, value, otherwise});
    }
    return value;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      size_t position = next().position;
      left = make(Expr::Kind::kBinary, position, "or", {left, parse_and()});
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      size_t position = next().position;
      left = make(Expr::Kind::kBinary, position, "and", {left, parse_not()});
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      size_t position = next().position;
      return make(Expr::Kind::kUnary, position, "not", {parse_not()});
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    while (true) {
      const Token& t = peek();
      std::string op;
      if (t.type == Tok::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" ||
                                 t.text == ">" || t.text == ">=")) {
        op = t.text, ++i_;
      } else if (at_name("in")) {
        op = "in", ++i_;
      } else if (at_name("not") && at_name("in", 1)) {
        op = "notin", i_ += 2;
      } else {
        return left;
      }
      left = make(Expr::Kind::kBinary, t.position, op, {left, parse_math1()});
    }
  }

  ExprPtr parse_binary_level(const std::vector<const char*>& ops, ExprPtr (Parser::*operand)()) {
    ExprPtr left = (this->*operand)();
    while (true) {
      const char* found = nullptr;
      for (const char* op : ops)
        if (at_op(op)) found = op;
      if (!found) return left;
      size_t position = next().position;
      left = make(Expr::Kind::kBinary, position, found, {left, (this->*operand)()});
    }
  }
  ExprPtr parse_math1() { return parse_binary_level({"+", "-"}, &Parser::parse_concat); }
  ExprPtr parse_concat() { return parse_binary_level({"~"}, &Parser::parse_math2); }
  ExprPtr parse_math2() { return parse_binary_level({"*", "/", "//", "%"}, &Parser::parse_pow); }
  ExprPtr parse_pow() { return parse_binary_level({"**"}, &Parser::parse_unary_filtered); }
  ExprPtr parse_unary_filtered() { return parse_unary(true); }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
      const Token& t = next();
      node = make(Expr::Kind::kUnary, t.position, t.text, {parse_unary(false)});
    } else {
      node = parse_postfix(parse_primary());
    }
    return with_filter ? parse_filters(node) : node;
  }

  ExprPtr parse_primary() {
    const Token& t = next();
    auto literal = [&](Value v) {
      auto e = std::make_shared<Expr>();
      e->kind = Expr::Kind::kLiteral, e->position = t.position, e->value = std::move(v);
      return e;
    };
    switch (t.type) {
      case Tok::kName:
        if (t.text == "true" || t.text == "True") return literal(Value::from(true));
        if (t.text == "false" || t.text == "False") return literal(Value::from(false));
        if (t.text == "none" || t.text == "None") return literal(Value::none());
        return make(Expr::Kind::kName, t.position, t.text, {});
      case Tok::kString: {
        std::string text = t.text;
        while (peek().type == Tok::kString) text += next().text;  // adjacent literals join, as in Python
        return literal(Value::from(text));
      }
      case Tok::kInt: return literal(Value::from(t.integer));
      case Tok::kFloat: return literal(Value::from(t.number));
      case Tok::kOp:
        if (t.text == "(") {
          if (accept_op(")")) return make(Expr::Kind::kList, t.position, "tuple", {});
          ExprPtr inner = parse_expression();
          if (!at_op(",")) {
            expect_op(")");
            return inner;
          }
          std::vector<ExprPtr> items{inner};
          while (accept_op(",") && !at_op(")")) items.push_back(parse_expression());
          expect_op(")");
          return make(Expr::Kind::kList, t.position, "tuple", items);
        }
        if (t.text == "[") {
          std::vector<ExprPtr> items;
          while (!at_op("]")) {
            items.push_back(parse_expression());
            if (!accept_op(",")) break;
          }
          expect_op("]");
          return make(Expr::Kind::kList, t.position, "list", items);
        }
        if (t.text == "{") {
          std::vector<ExprPtr> items;
          while (!at_op("}")) {
            items.push_back(parse_expression());
            expect_op(":");
            items.push_back(parse_expression());
            if (!accept_op(",")) break;
          }
          expect_op("}");
          return make(Expr::Kind::kDict, t.position, "dict", items);
        }
        break;
      default: break;
    }
    error(t, "an expression");
  }

  void parse_call_args(Expr& e) {  // after "(": positional and name=value arguments, then ")"
    while (!at_op(")")) {
      if (peek().type == Tok::kName && at_op("=", 1)) {
        std::string name = next().text;
        ++i_;
        e.kwargs.emplace_back(name, parse_expression());
      } else {
        if (!e.kwargs.empty()) error(peek(), "a keyword argument (name=value) after keyword arguments");
        e.args.push_back(parse_expression());
      }
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (at_op(".")) {
        size_t position = next().position;
        if (peek().type == Tok::kInt) {  // x.0 is x[0] in Jinja
          auto index = std::make_shared<Expr>();
          index->kind = Expr::Kind::kLiteral, index->position = peek().position, index->value = Value::from(next().integer);
          node = make(Expr::Kind::kIndex, position, "", {node, index});
          continue;
        }
        std::string name = expect_name();
        if (at_op("(")) {
          if (!kMethods.count(name)) unsupported(position, "method '." + name + "()'", "the methods " + list_of(kMethods));
          ++i_;
          auto call = std::make_shared<Expr>();
          call->kind = Expr::Kind::kMethod, call->position = position, call->name = name;
          call->args.push_back(node);
          parse_call_args(*call);
          node = call;
        } else {
          node = make(Expr::Kind::kAttribute, position, name, {node});
        }
      } else if (at_op("[")) {
        size_t position = next().position;
        std::vector<ExprPtr> parts{node};
        ExprPtr start = at_op(":") ? nullptr : parse_expression();
        if (accept_op(":")) {
          ExprPtr stop = (at_op(":") || at_op("]")) ? nullptr : parse_expression();
          ExprPtr step = nullptr;
          if (accept_op(":") && !at_op("]")) step = parse_expression();
          expect_op("]");
          node = make(Expr::Kind::kSlice, position, "", {node, start, stop, step});
        } else {
          expect_op("]");
          node = make(Expr::Kind::kIndex, position, "", {node, start});
        }
      } else if (at_op("(")) {
        if (node->kind != Expr::Kind::kName)
          unsupported(peek().position, "a call of something other than a global function", "calls of " + list_of(kFunctions));
        if (!kFunctions.count(node->name))
          unsupported(node->position, "function '" + node->name + "()'", "the functions " + list_of(kFunctions));
        ++i_;
        auto call = std::make_shared<Expr>();
        call->kind = Expr::Kind::kCall, call->position = node->position, call->name = node->name;
        parse_call_args(*call);
        node = call;
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filters(ExprPtr node) {
    while (true) {
      if (at_op("|")) {
        ++i_;
        const Token& t = peek();
        std::string name = expect_name();
        if (!kFilters.count(name)) unsupported(t.position, "filter '" + name + "'", "the filters " + list_of(kFilters));
        auto filter = std::make_shared<Expr>();
        filter->kind = Expr::Kind::kFilter, filter->position = t.position, filter->name = name;
        filter->args.push_back(node);
        if (accept_op("(")) parse_call_args(*filter);
        node = filter;
      } else if (at_name("is")) {
        ++i_;
        auto test = std::make_shared<Expr>();
        test->kind = Expr::Kind::kTest, test->position = peek().position;
        test->negated = accept_name("not");
        const Token& t = peek();
        if (t.type == Tok::kName) test->name = next().text;
        else if (t.type == Tok::kOp && (t.text == "==" || t.text == "!=")) test->name = next().text;
        else error(t, "a test name");
        if (!kTests.count(test->name)) unsupported(t.position, "test 'is " + test->name + "'", "the tests " + list_of(kTests));
        test->args.push_back(node);
        if (accept_op("(")) {
          parse_call_args(*test);
        } else if ((peek().type == Tok::kString || peek().type == Tok::kInt || peek().type == Tok::kFloat ||
                    (peek().type == Tok::kName && !at_name("else") && !at_name("or") && !at_name("and") &&
                     !at_name("if") && !at_name("in") && !at_name("not") && !at_name("is")))) {
          test->args.push_back(parse_postfix(parse_primary()));  // "x is divisibleby 3"
        }
        node = test;
      } else {
        return node;
      }
    }
  }

  static std::string list_of(const std::set<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  const std::string& s_;
  std::vector<Token> t_;
  size_t i_ = 0;
};

}  // namespace

std::string where(const std::string& source, size_t position) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < position && i < source.size(); ++i) {
    if (source[i] == '\n') ++line, column = 1;
    else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) ++column;
  }
  return "chat_template:" + std::to_string(line) + ":" + std::to_string(column);
}

std::shared_ptr<const Template> parse(const std::string& source) {
  auto tmpl = std::make_shared<Template>();
  tmpl->source = normalise_newlines(source);
  Parser parser(tmpl->source, lex(tmpl->source));
  tmpl->body = parser.parse_template();
  return tmpl;
}

}  // namespace rlhf::jinja
