#include "tokenizer/jinja_ops.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "tokenizer/utf8.h"

namespace rlhf::jinja {
namespace {

[[noreturn]] void error(size_t position, const std::string& source, const std::string& message) {
  fail(where(source, position) + ": " + message);
}

bool is_number(const Value& v) {
  return v.is(Value::Kind::kInt) || v.is(Value::Kind::kFloat) || v.is(Value::Kind::kBool);
}
double as_double(const Value& v) {
  return v.is(Value::Kind::kFloat) ? v.number : static_cast<double>(v.is(Value::Kind::kBool) ? v.boolean : v.integer);
}
int64_t as_int(const Value& v) { return v.is(Value::Kind::kBool) ? v.boolean : v.integer; }
bool integral(const Value& v) { return v.is(Value::Kind::kInt) || v.is(Value::Kind::kBool); }

// Python's str.isspace() characters: what str.strip() and str.split() (and so Jinja's trim) remove.
bool python_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<uint32_t> code_points(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8::sequence_length(s, i);
    if (n == 0) {  // not UTF-8: take the byte (our messages are validated before they get here)
      out.push_back(static_cast<unsigned char>(s[i]));
      ++i;
    } else {
      out.push_back(utf8::decode_at(s, i));
      i += n;
    }
  }
  return out;
}

std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) utf8::append(out, cps[i]);
  return out;
}

// str.strip / lstrip / rstrip, with Python's whitespace or the given characters.
std::string strip(const std::string& s, bool left, bool right, const Value* chars) {
  std::vector<uint32_t> cps = code_points(s);
  std::vector<uint32_t> set;
  bool by_set = chars && chars->is(Value::Kind::kString);
  if (by_set) set = code_points(chars->text);
  auto strippable = [&](uint32_t c) {
    return by_set ? std::find(set.begin(), set.end(), c) != set.end() : python_space(c);
  };
  size_t begin = 0, end = cps.size();
  if (left) while (begin < end && strippable(cps[begin])) ++begin;
  if (right) while (end > begin && strippable(cps[end - 1])) --end;
  return from_code_points(cps, begin, end);
}

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s) c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) return s;  // (Python inserts between characters; no chat template relies on that)
  std::string out;
  size_t at = 0;
  for (int64_t done = 0; count < 0 || done < count; ++done) {
    size_t hit = s.find(from, at);
    if (hit == std::string::npos) break;
    out += s.substr(at, hit - at) + to;
    at = hit + from.size();
  }
  return out + s.substr(at);
}

int64_t length_of(const Value& v, size_t position, const std::string& source) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return static_cast<int64_t>(code_points(v.text).size());
    case Value::Kind::kList: return static_cast<int64_t>(v.list->size());
    case Value::Kind::kDict: case Value::Kind::kNamespace: return static_cast<int64_t>(v.dict->size());
    default: error(position, source, "object of type '" + type_name(v) + "' has no len()");
  }
}

List as_list(const Value& v, size_t position, const std::string& source) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return *v.list;
    case Value::Kind::kString: return characters(v.text);
    case Value::Kind::kDict: {
      List keys;
      for (const auto& entry : *v.dict) keys.push_back(Value::from(entry.first));
      return keys;
    }
    default: error(position, source, "'" + type_name(v) + "' object is not iterable");
  }
}

// Jinja's attribute lookup for selectattr/map: "a.b" walks dicts; a missing key is undefined.
Value attribute_of(const Value& item, const std::string& path) {
  Value current = item;
  size_t begin = 0;
  while (true) {
    size_t dot = path.find('.', begin);
    std::string part = path.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    const Value* found = current.find(part);
    current = found ? *found : Value::undefined(part);
    if (dot == std::string::npos) return current;
    begin = dot + 1;
  }
}

const Value* kwarg(const Dict& kwargs, const std::string& name) {
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

void check_kwargs(const Dict& kwargs, const std::vector<std::string>& allowed, const std::string& what, size_t position,
                  const std::string& source) {
  for (const auto& entry : kwargs)
    if (std::find(allowed.begin(), allowed.end(), entry.first) == allowed.end())
      error(position, source, what + " has no argument '" + entry.first + "' in the chat template subset");
}

const Value& arg(const std::vector<Value>& args, size_t k, const Value& fallback) {
  return k < args.size() ? args[k] : fallback;
}

bool less(const Value& a, const Value& b, size_t position, const std::string& source) {
  if (is_number(a) && is_number(b)) return as_double(a) < as_double(b);
  if (a.is(Value::Kind::kString) && b.is(Value::Kind::kString)) return a.text < b.text;  // UTF-8 order = code points
  if (a.is(Value::Kind::kList) && b.is(Value::Kind::kList)) {
    for (size_t i = 0; i < std::min(a.list->size(), b.list->size()); ++i) {
      if (less((*a.list)[i], (*b.list)[i], position, source)) return true;
      if (less((*b.list)[i], (*a.list)[i], position, source)) return false;
    }
    return a.list->size() < b.list->size();
  }
  error(position, source, "'<' not supported between '" + type_name(a) + "' and '" + type_name(b) + "'");
}

bool contains(const Value& haystack, const Value& needle, size_t position, const std::string& source) {
  switch (haystack.kind) {
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kString:
      if (!needle.is(Value::Kind::kString))
        error(position, source, "'in <string>' requires a string on the left, found " + type_name(needle));
      return haystack.text.find(needle.text) != std::string::npos;
    case Value::Kind::kList:
      return std::any_of(haystack.list->begin(), haystack.list->end(), [&](const Value& v) { return equals(v, needle); });
    case Value::Kind::kDict: case Value::Kind::kNamespace:
      return needle.is(Value::Kind::kString) && haystack.find(needle.text) != nullptr;
    default: error(position, source, "argument of type '" + type_name(haystack) + "' is not iterable");
  }
}

}  // namespace

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.boolean;
    case Value::Kind::kInt: return v.integer != 0;
    case Value::Kind::kFloat: return v.number != 0;
    case Value::Kind::kString: return !v.text.empty();
    case Value::Kind::kList: return !v.list->empty();
    case Value::Kind::kDict: return !v.dict->empty();
    default: return true;
  }
}

bool equals(const Value& a, const Value& b) {
  if (is_number(a) && is_number(b)) return as_double(a) == as_double(b);
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::kUndefined: case Value::Kind::kNone: return true;
    case Value::Kind::kString: case Value::Kind::kFunction: return a.text == b.text;
    case Value::Kind::kList:
      if (a.list->size() != b.list->size()) return false;
      for (size_t i = 0; i < a.list->size(); ++i)
        if (!equals((*a.list)[i], (*b.list)[i])) return false;
      return true;
    case Value::Kind::kDict:
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [key, value] : *a.dict) {
        const Value* other = b.find(key);
        if (!other || !equals(value, *other)) return false;
      }
      return true;
    case Value::Kind::kNamespace: return a.dict == b.dict;
    default: return false;
  }
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return "list";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kNamespace: return "Namespace";
    case Value::Kind::kFunction: return "function";
  }
  return "?";
}

std::string undefined_message(const Value& undefined) {
  return undefined.text.empty() ? "a value is undefined" : "'" + undefined.text + "' is undefined";
}

void set_key(Dict& dict, const std::string& key, Value value) {
  for (auto& [k, v] : dict)
    if (k == key) {
      v = std::move(value);
      return;
    }
  dict.emplace_back(key, std::move(value));
}

List characters(const std::string& text) {
  std::vector<uint32_t> cps = code_points(text);
  List out;
  for (size_t i = 0; i < cps.size(); ++i) out.push_back(Value::from(from_code_points(cps, i, i + 1)));
  return out;
}

Value index(const Value& object, const Value& key) {
  if (object.is_mapping()) {
    const Value* found = key.is(Value::Kind::kString) ? object.find(key.text) : nullptr;
    return found ? *found : Value::undefined(to_string(key));
  }
  if ((object.is(Value::Kind::kList) || object.is(Value::Kind::kString)) && integral(key)) {
    List characters_of_string;
    const List& items = object.is(Value::Kind::kList) ? *object.list : (characters_of_string = characters(object.text));
    int64_t n = static_cast<int64_t>(items.size()), i = as_int(key);
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined("[" + std::to_string(as_int(key)) + "]");
    return items[static_cast<size_t>(i)];
  }
  return Value::undefined("[" + to_string(key) + "]");
}

Value slice(const Value& object, const Value& start, const Value& stop, const Value& step, size_t position,
            const std::string& source) {
  for (const Value* bound : {&start, &stop, &step})
    if (!bound->is(Value::Kind::kNone) && !integral(*bound))
      error(position, source, "slice bounds must be integers, found " + type_name(*bound));
  if (!object.is(Value::Kind::kList) && !object.is(Value::Kind::kString))
    error(position, source, "cannot slice " + type_name(object));
  List chars;
  const List& items = object.is(Value::Kind::kList) ? *object.list : (chars = characters(object.text));
  const int64_t n = static_cast<int64_t>(items.size());
  const int64_t s = step.is(Value::Kind::kNone) ? 1 : as_int(step);
  if (s == 0) error(position, source, "slice step cannot be zero");
  auto clamp = [&](const Value& bound, int64_t fallback) {
    if (bound.is(Value::Kind::kNone)) return fallback;
    int64_t i = as_int(bound);
    if (i < 0) i += n;
    return s > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t begin = clamp(start, s > 0 ? 0 : n - 1), end = clamp(stop, s > 0 ? n : -1);
  List out;
  for (int64_t i = begin; s > 0 ? i < end : i > end; i += s) out.push_back(items[static_cast<size_t>(i)]);
  if (object.is(Value::Kind::kList)) return Value::from(std::move(out));
  std::string text;
  for (const Value& c : out) text += c.text;
  return Value::from(text);
}

Value unary(const std::string& op, const Value& operand, size_t position, const std::string& source) {
  if (!is_number(operand)) error(position, source, "bad operand type for unary " + op + ": '" + type_name(operand) + "'");
  if (op == "+") return integral(operand) ? Value::from(as_int(operand)) : operand;
  return integral(operand) ? Value::from(-as_int(operand)) : Value::from(-operand.number);
}

Value binary(const std::string& op, const Value& a, const Value& b, size_t position, const std::string& source) {
  if (op == "==") return Value::from(equals(a, b));
  if (op == "!=") return Value::from(!equals(a, b));
  if (op == "<") return Value::from(less(a, b, position, source));
  if (op == ">") return Value::from(less(b, a, position, source));
  if (op == "<=") return Value::from(!less(b, a, position, source));
  if (op == ">=") return Value::from(!less(a, b, position, source));
  if (op == "in") return Value::from(contains(b, a, position, source));
  if (op == "notin") return Value::from(!contains(b, a, position, source));
  if (op == "~") return Value::from(to_string(a) + to_string(b));
  for (const Value* v : {&a, &b})
    if (v->is(Value::Kind::kUndefined)) error(position, source, undefined_message(*v) + " (operator " + op + ")");
  if (op == "+") {
    if (a.is(Value::Kind::kString) && b.is(Value::Kind::kString)) return Value::from(a.text + b.text);
    if (a.is(Value::Kind::kList) && b.is(Value::Kind::kList)) {
      List joined = *a.list;
      joined.insert(joined.end(), b.list->begin(), b.list->end());
      return Value::from(std::move(joined));
    }
  }
  if (op == "*" && (a.is(Value::Kind::kString) || a.is(Value::Kind::kList) || b.is(Value::Kind::kString)) &&
      (integral(a) || integral(b))) {
    const Value& sequence = integral(a) ? b : a;
    int64_t times = std::max<int64_t>(0, as_int(integral(a) ? a : b));
    const size_t unit = sequence.is(Value::Kind::kString) ? sequence.text.size() : sequence.list->size();
    if (unit > 0 && static_cast<uint64_t>(times) > (size_t{1} << 26) / unit)  // a template is not a memory bomb
      error(position, source, "a repetition of more than 64 Mi characters or items");
    if (sequence.is(Value::Kind::kString)) {
      std::string out;
      for (int64_t i = 0; i < times; ++i) out += sequence.text;
      return Value::from(out);
    }
    List out;
    for (int64_t i = 0; i < times; ++i) out.insert(out.end(), sequence.list->begin(), sequence.list->end());
    return Value::from(std::move(out));
  }
  if (!is_number(a) || !is_number(b))
    error(position, source, "unsupported operand types for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
  const bool ints = integral(a) && integral(b);
  if (op == "/" || ((op == "//" || op == "%") && (ints ? as_int(b) == 0 : as_double(b) == 0))) {
    if (as_double(b) == 0) error(position, source, "division by zero");
    return Value::from(as_double(a) / as_double(b));
  }
  if (ints) {
    int64_t x = as_int(a), y = as_int(b);
    if (op == "+") return Value::from(x + y);
    if (op == "-") return Value::from(x - y);
    if (op == "*") return Value::from(x * y);
    if (op == "//") return Value::from(static_cast<int64_t>(std::floor(static_cast<double>(x) / static_cast<double>(y))));
    if (op == "%") return Value::from(((x % y) + y) % y);
    if (op == "**" && y >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < y; ++i) r *= x;
      return Value::from(r);
    }
  }
  double x = as_double(a), y = as_double(b);
  if (op == "+") return Value::from(x + y);
  if (op == "-") return Value::from(x - y);
  if (op == "*") return Value::from(x * y);
  if (op == "//") return Value::from(std::floor(x / y));
  if (op == "%") return Value::from(x - y * std::floor(x / y));
  if (op == "**") return Value::from(std::pow(x, y));
  error(position, source, "unknown operator " + op);
}

Value call_method(const Value& object, const std::string& name, const std::vector<Value>& args, const Dict& kwargs,
                  size_t position, const std::string& source) {
  check_kwargs(kwargs, {}, "." + name + "()", position, source);
  const Value none = Value::none();
  if (object.is(Value::Kind::kDict) || object.is(Value::Kind::kNamespace)) {
    List out;
    if (name == "items" || name == "keys" || name == "values") {
      for (const auto& [k, v] : *object.dict)
        out.push_back(name == "items" ? Value::from(List{Value::from(k), v}) : name == "keys" ? Value::from(k) : v);
      return Value::from(std::move(out));
    }
    if (name == "get") {
      if (args.empty()) error(position, source, ".get() needs a key");
      const Value* found = args[0].is(Value::Kind::kString) ? object.find(args[0].text) : nullptr;
      return found ? *found : arg(args, 1, none);
    }
  }
  if (object.is(Value::Kind::kString)) {
    const std::string& s = object.text;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      const Value* chars = args.empty() || args[0].is(Value::Kind::kNone) ? nullptr : &args[0];
      return Value::from(strip(s, name != "rstrip", name != "lstrip", chars));
    }
    if (name == "upper" || name == "lower") return Value::from(ascii_case(s, name == "upper"));
    if (name == "title" || name == "capitalize") return apply_filter(name, object, {}, {}, position, source);
    if (name == "startswith" || name == "endswith") {
      if (args.empty()) error(position, source, "." + name + "() needs a string");
      List candidates = args[0].is(Value::Kind::kList) ? *args[0].list : List{args[0]};
      for (const Value& c : candidates) {
        if (!c.is(Value::Kind::kString)) error(position, source, "." + name + "() takes strings, found " + type_name(c));
        bool hit = name == "startswith" ? s.compare(0, c.text.size(), c.text) == 0
                                        : s.size() >= c.text.size() && s.compare(s.size() - c.text.size(), c.text.size(), c.text) == 0;
        if (hit) return Value::from(true);
      }
      return Value::from(false);
    }
    if (name == "replace") {
      if (args.size() < 2 || !args[0].is(Value::Kind::kString) || !args[1].is(Value::Kind::kString))
        error(position, source, ".replace() needs two strings");
      return Value::from(replace_all(s, args[0].text, args[1].text, args.size() > 2 ? as_int(args[2]) : -1));
    }
    if (name == "split") {
      List parts;
      if (args.empty() || args[0].is(Value::Kind::kNone)) {  // runs of whitespace, no empty parts
        std::vector<uint32_t> cps = code_points(s);
        size_t i = 0;
        while (i < cps.size()) {
          while (i < cps.size() && python_space(cps[i])) ++i;
          size_t begin = i;
          while (i < cps.size() && !python_space(cps[i])) ++i;
          if (i > begin) parts.push_back(Value::from(from_code_points(cps, begin, i)));
        }
        return Value::from(std::move(parts));
      }
      if (!args[0].is(Value::Kind::kString) || args[0].text.empty()) error(position, source, ".split() needs a non-empty separator");
      int64_t limit = args.size() > 1 ? as_int(args[1]) : -1;
      size_t at = 0;
      for (int64_t done = 0; limit < 0 || done < limit; ++done) {
        size_t hit = s.find(args[0].text, at);
        if (hit == std::string::npos) break;
        parts.push_back(Value::from(s.substr(at, hit - at)));
        at = hit + args[0].text.size();
      }
      parts.push_back(Value::from(s.substr(at)));
      return Value::from(std::move(parts));
    }
  }
  error(position, source, "'" + type_name(object) + "' has no method ." + name + "() in the chat template subset");
}

bool apply_test(const std::string& name, const Value& v, const std::vector<Value>& args, size_t position,
                const std::string& source) {
  auto need_arg = [&]() -> const Value& {
    if (args.empty()) error(position, source, "the test '" + name + "' needs an argument");
    return args[0];
  };
  if (name == "defined") return !v.is(Value::Kind::kUndefined);
  if (name == "undefined") return v.is(Value::Kind::kUndefined);
  if (name == "none") return v.is(Value::Kind::kNone);
  if (name == "string") return v.is(Value::Kind::kString);
  if (name == "number") return is_number(v);
  if (name == "integer") return v.is(Value::Kind::kInt);
  if (name == "float") return v.is(Value::Kind::kFloat);
  if (name == "boolean") return v.is(Value::Kind::kBool);
  if (name == "true") return v.is(Value::Kind::kBool) && v.boolean;
  if (name == "false") return v.is(Value::Kind::kBool) && !v.boolean;
  if (name == "mapping") return v.is(Value::Kind::kDict);
  if (name == "iterable") return v.is(Value::Kind::kString) || v.is(Value::Kind::kList) || v.is(Value::Kind::kDict) || v.is(Value::Kind::kUndefined);
  if (name == "sequence") return v.is(Value::Kind::kString) || v.is(Value::Kind::kList) || v.is(Value::Kind::kDict);
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, need_arg());
  if (name == "ne" || name == "!=") return !equals(v, need_arg());
  if (name == "in") return contains(need_arg(), v, position, source);
  if (name == "lower" || name == "upper")
    return v.is(Value::Kind::kString) && ascii_case(v.text, name == "upper") == v.text;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!integral(v)) error(position, source, "the test '" + name + "' needs an integer, found " + type_name(v));
    int64_t divisor = name == "divisibleby" ? as_int(need_arg()) : 2;
    if (divisor == 0) error(position, source, "divisibleby 0");
    bool divisible = as_int(v) % divisor == 0;
    return name == "odd" ? !divisible : divisible;
  }
  error(position, source, "unknown test '" + name + "'");
}

Value apply_filter(const std::string& name, const Value& v, const std::vector<Value>& args, const Dict& kwargs,
                   size_t position, const std::string& source) {
  const Value none = Value::none();
  if (name == "tojson") {
    check_kwargs(kwargs, {"indent"}, "tojson", position, source);
    const Value* indent = kwarg(kwargs, "indent");
    if (!indent && !args.empty()) indent = &args[0];
    return Value::from(to_json(v, indent && integral(*indent) ? static_cast<int>(as_int(*indent)) : -1));
  }
  if (name == "default" || name == "d") {
    check_kwargs(kwargs, {"default_value", "boolean"}, name, position, source);
    const Value* fallback = kwarg(kwargs, "default_value");
    const Value* boolean = kwarg(kwargs, "boolean");
    Value empty = Value::from("");
    if (!fallback) fallback = args.empty() ? &empty : &args[0];
    if (!boolean && args.size() > 1) boolean = &args[1];
    bool use_fallback = v.is(Value::Kind::kUndefined) || (boolean && truthy(*boolean) && !truthy(v));
    return use_fallback ? *fallback : v;
  }
  if (name == "map") {
    check_kwargs(kwargs, {"attribute", "default"}, "map", position, source);
    const Value* attribute = kwarg(kwargs, "attribute");
    List out;
    for (const Value& item : as_list(v, position, source)) {
      if (attribute) {
        Value found = attribute_of(item, to_string(*attribute));
        const Value* fallback = kwarg(kwargs, "default");
        out.push_back(found.is(Value::Kind::kUndefined) && fallback ? *fallback : found);
      } else {
        if (args.empty() || !args[0].is(Value::Kind::kString)) error(position, source, "map needs attribute= or a filter name");
        out.push_back(apply_filter(args[0].text, item, std::vector<Value>(args.begin() + 1, args.end()), {}, position, source));
      }
    }
    return Value::from(std::move(out));
  }
  check_kwargs(kwargs, {}, name, position, source);
  if (name == "trim") return Value::from(strip(to_string(v), true, true, args.empty() ? nullptr : &args[0]));
  if (name == "length" || name == "count") return Value::from(length_of(v, position, source));
  if (name == "upper" || name == "lower") return Value::from(ascii_case(to_string(v), name == "upper"));
  if (name == "capitalize" || name == "title") {
    std::string s = ascii_case(to_string(v), false);
    bool word_start = true;
    for (size_t i = 0; i < s.size(); ++i) {
      bool letter = std::isalpha(static_cast<unsigned char>(s[i])) != 0;
      if (letter && word_start && (name == "title" || i == 0)) s[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
      word_start = name == "title" ? !letter : false;
    }
    return Value::from(s);
  }
  if (name == "string") return Value::from(to_string(v));
  if (name == "safe") return v;
  if (name == "list") return Value::from(as_list(v, position, source));
  if (name == "reverse") {
    if (v.is(Value::Kind::kString)) {
      List chars = characters(v.text);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->text;
      return Value::from(out);
    }
    List items = as_list(v, position, source);
    std::reverse(items.begin(), items.end());
    return Value::from(std::move(items));
  }
  if (name == "items") {
    if (v.is(Value::Kind::kUndefined)) return Value::from(List{});
    if (!v.is_mapping()) error(position, source, "the filter 'items' needs a mapping, found " + type_name(v));
    return call_method(v, "items", {}, {}, position, source);
  }
  if (name == "join") {
    std::string separator = args.empty() ? "" : to_string(args[0]), out;
    List items = as_list(v, position, source);
    for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + to_string(items[i]);
    return Value::from(out);
  }
  if (name == "first" || name == "last") {
    List items = as_list(v, position, source);
    if (items.empty()) return Value::undefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    const bool by_attribute = name == "selectattr" || name == "rejectattr";
    const bool keep_matches = name == "select" || name == "selectattr";
    if (by_attribute && (args.empty() || !args[0].is(Value::Kind::kString)))
      error(position, source, name + " needs an attribute name");
    const size_t test_at = by_attribute ? 1 : 0;
    List out;
    for (const Value& item : as_list(v, position, source)) {
      Value subject = by_attribute ? attribute_of(item, args[0].text) : item;
      bool match;
      if (args.size() > test_at) {
        if (!args[test_at].is(Value::Kind::kString)) error(position, source, name + " needs a test name");
        match = apply_test(args[test_at].text, subject, std::vector<Value>(args.begin() + static_cast<std::ptrdiff_t>(test_at) + 1, args.end()),
                           position, source);
      } else {
        match = truthy(subject);
      }
      if (match == keep_matches) out.push_back(item);
    }
    return Value::from(std::move(out));
  }
  if (name == "replace") {
    if (args.size() < 2) error(position, source, "replace needs two strings");
    return Value::from(replace_all(to_string(v), to_string(args[0]), to_string(args[1]), args.size() > 2 ? as_int(args[2]) : -1));
  }
  if (name == "int" || name == "float" || name == "abs") {
    if (name == "abs") {
      if (!is_number(v)) error(position, source, "bad operand type for abs(): '" + type_name(v) + "'");
      return integral(v) ? Value::from(std::abs(as_int(v))) : Value::from(std::fabs(v.number));
    }
    double d = 0;
    if (is_number(v)) {
      d = as_double(v);
    } else if (v.is(Value::Kind::kString)) {
      try {
        d = std::stod(v.text);
      } catch (const std::exception&) {
        d = args.empty() ? 0 : as_double(args[0]);  // Jinja's int/float return the default on bad text
      }
    }
    return name == "int" ? Value::from(static_cast<int64_t>(d)) : Value::from(d);
  }
  error(position, source, "unknown filter '" + name + "'");
}

}  // namespace rlhf::jinja
