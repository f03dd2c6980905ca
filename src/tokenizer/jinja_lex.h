// The lexer of the Jinja subset (jinja.h): template text and the tokens inside {{ }} and {% %}, with whitespace handled
// as transformers configures Jinja: trim_blocks (the newline after a block or comment tag is dropped), lstrip_blocks
// (spaces and tabs between a line's start and a block or comment tag are dropped), "-" strips all whitespace on its side
// of a tag, "+" keeps lstrip_blocks off, and one trailing newline of the template is dropped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rlhf::jinja {

enum class Tok { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEnd };

struct Token {
  Tok type;
  std::string text;  // text, name, operator, or the decoded string literal
  size_t position;
  int64_t integer = 0;
  double number = 0;
};

// \r\n and \r as \n, and one trailing newline dropped (Jinja's newline_sequence and keep_trailing_newline=False).
std::string normalise_newlines(const std::string& source);

// The tokens of a normalised template, ending with Tok::kEnd; rlhf::Error naming line:column for an unclosed tag,
// comment or string, or a character no expression has.
std::vector<Token> lex(const std::string& source);

}  // namespace rlhf::jinja
