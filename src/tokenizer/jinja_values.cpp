// Jinja values as Python prints them: str() for {{ x }}, repr() inside lists and dicts, json.dumps for tojson
// (transformers' tojson: ensure_ascii=False, indent as given, key order kept).
#include <cmath>
#include <cstdio>

#include "tokenizer/jinja.h"

namespace rlhf::jinja {

const Value* Value::find(const std::string& key) const {
  if (!is_mapping() || !dict) return nullptr;
  for (const auto& [k, v] : *dict)
    if (k == key) return &v;
  return nullptr;
}

namespace {

// Python's repr of a float: the shortest text that reads back to the same double, with ".0" for integral values and
// Python's exponent form ("1e+16", "1e-05").
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buffer[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, d);
    if (std::strtod(buffer, nullptr) == d) break;
  }
  std::string s = buffer;
  size_t e = s.find('e');
  if (e != std::string::npos) {  // C writes e+16 / e-05; Python writes e+16 / e-05 too, but no ".0" and 2+ digits
    std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
    char sign = exponent[0];
    std::string digits = exponent.substr(1);
    while (digits.size() > 2 && digits[0] == '0') digits.erase(0, 1);
    return mantissa + "e" + sign + digits;
  }
  if (s.find('.') == std::string::npos && s.find("inf") == std::string::npos) s += ".0";
  return s;
}

std::string python_string_repr(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == static_cast<unsigned char>(quote)) out += std::string("\\") + quote;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + quote;
}

std::string repr(const Value& v);

std::string container_repr(const Value& v) {
  std::string out;
  if (v.is(Value::Kind::kList)) {
    out = "[";
    for (size_t i = 0; i < v.list->size(); ++i) out += (i ? ", " : "") + repr((*v.list)[i]);
    return out + "]";
  }
  out = v.is(Value::Kind::kNamespace) ? "<Namespace {" : "{";
  size_t i = 0;
  for (const auto& [key, value] : *v.dict) out += (i++ ? ", " : "") + python_string_repr(key) + ": " + repr(value);
  return out + (v.is(Value::Kind::kNamespace) ? "}>" : "}");
}

std::string repr(const Value& v) {
  if (v.is(Value::Kind::kString)) return python_string_repr(v.text);
  if (v.is(Value::Kind::kUndefined)) return "Undefined";
  return to_string(v);
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_value(std::string& out, const Value& v, int indent, int depth) {
  auto newline = [&](int level) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * level), ' ');
  };
  const char* comma = indent < 0 ? ", " : ",";
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kFunction:
    case Value::Kind::kNone: out += "null"; return;
    case Value::Kind::kBool: out += v.boolean ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(v.integer); return;
    case Value::Kind::kFloat: {
      if (std::isnan(v.number)) out += "NaN";
      else if (std::isinf(v.number)) out += v.number > 0 ? "Infinity" : "-Infinity";
      else out += float_repr(v.number);
      return;
    }
    case Value::Kind::kString: json_string(out, v.text); return;
    case Value::Kind::kList:
      if (v.list->empty()) { out += "[]"; return; }
      out += '[';
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) out += comma;
        newline(depth + 1);
        json_value(out, (*v.list)[i], indent, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      if (v.dict->empty()) { out += "{}"; return; }
      out += '{';
      for (size_t i = 0; i < v.dict->size(); ++i) {
        if (i) out += comma;
        newline(depth + 1);
        json_string(out, (*v.dict)[i].first);
        out += ": ";
        json_value(out, (*v.dict)[i].second, indent, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
  }
}

}  // namespace

std::string to_string(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.boolean ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.integer);
    case Value::Kind::kFloat: return float_repr(v.number);
    case Value::Kind::kString: return v.text;
    case Value::Kind::kFunction: return "<built-in function " + v.text + ">";
    default: return container_repr(v);
  }
}

std::string to_json(const Value& value, int indent) {
  std::string out;
  json_value(out, value, indent, 0);
  return out;
}

}  // namespace rlhf::jinja
