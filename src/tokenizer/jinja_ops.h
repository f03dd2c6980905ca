// The operations of the Jinja subset on values (jinja.h), with Python's semantics: truthiness, equality and ordering,
// arithmetic, indexing and slicing (by character), and the filters, tests and methods the parser accepts. Each takes
// the template's source and a position, so that an error names where in the template it happened.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/jinja.h"

namespace rlhf::jinja {

bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
std::string type_name(const Value& v);                  // Python's: "str", "int", "list", "dict", "undefined", ...
std::string undefined_message(const Value& undefined);  // "'name' is undefined"
void set_key(Dict& dict, const std::string& key, Value value);
List characters(const std::string& text);               // one string per UTF-8 character

Value index(const Value& object, const Value& key);      // undefined when absent (Jinja), as x[k] / x.k
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step, size_t position,
            const std::string& source);
Value unary(const std::string& op, const Value& operand, size_t position, const std::string& source);
Value binary(const std::string& op, const Value& left, const Value& right, size_t position, const std::string& source);

Value call_method(const Value& object, const std::string& name, const std::vector<Value>& args, const Dict& kwargs,
                  size_t position, const std::string& source);
Value apply_filter(const std::string& name, const Value& value, const std::vector<Value>& args, const Dict& kwargs,
                   size_t position, const std::string& source);
bool apply_test(const std::string& name, const Value& value, const std::vector<Value>& args, size_t position,
                const std::string& source);

}  // namespace rlhf::jinja
