#include "tokenizer/jinja_lex.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/utf8.h"

namespace rlhf::jinja {

std::string normalise_newlines(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  explicit Lexer(const std::string& source) : s_(source) {}

  std::vector<Token> run() {
    size_t text_start = 0;
    bool strip_next_text = false;  // the previous tag ended with "-"
    while (true) {
      size_t open = find_tag(text_start);
      std::string text = s_.substr(text_start, (open == std::string::npos ? s_.size() : open) - text_start);
      if (strip_next_text) text.erase(0, std::min(text.size(), count_leading_space(text)));
      if (open == std::string::npos) {
        emit_text(text, text_start);
        break;
      }
      const char kind = s_[open + 1];  // '{', '%' or '#'
      const char modifier = open + 2 < s_.size() ? s_[open + 2] : '\0';
      if (modifier == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (modifier != '+' && kind != '{') {
        lstrip_block(text, text_start);
      }
      emit_text(text, text_start);
      size_t pos = open + 2 + (modifier == '-' || modifier == '+' ? 1 : 0);
      bool strip_after = false;
      if (kind == '#') {
        size_t close = s_.find("#}", pos);
        if (close == std::string::npos) error(open, "a comment closed by #}", "the end of the template");
        strip_after = close > pos && s_[close - 1] == '-';
        pos = close + 2;
        if (!strip_after && pos < s_.size() && s_[pos] == '\n') ++pos;  // trim_blocks
      } else {
        pos = lex_tag(kind == '{', open, pos, strip_after);
      }
      strip_next_text = strip_after;
      text_start = pos;
    }
    tokens_.push_back({Tok::kEnd, "", s_.size()});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(size_t position, const std::string& expected, const std::string& found) {
    fail(where(s_, position), expected, found);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = s_.find('{', from); i != std::string::npos; i = s_.find('{', i + 1))
      if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  static size_t count_leading_space(const std::string& text) {
    size_t n = 0;
    while (n < text.size() && is_space(text[n])) ++n;
    return n;
  }

  // lstrip_blocks: drop the spaces and tabs before a block tag when only they stand between the line's start and it.
  void lstrip_block(std::string& text, size_t text_start) const {
    size_t cut = text.size();
    while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == '\t')) --cut;
    bool line_start = cut > 0 ? text[cut - 1] == '\n' : (text_start == 0 || s_[text_start - 1] == '\n');
    if (line_start) text.erase(cut);
  }

  void emit_text(const std::string& text, size_t position) {
    if (!text.empty()) tokens_.push_back({Tok::kText, text, position});
  }

  // Lexes the inside of {{ }} or {% %} from `pos`; returns the position after the tag (and its trimmed newline).
  size_t lex_tag(bool variable, size_t open, size_t pos, bool& strip_after) {
    tokens_.push_back({variable ? Tok::kVarBegin : Tok::kBlockBegin, "", open});
    const char* close = variable ? "}}" : "%}";
    int depth = 0;  // open brackets: "}}" inside a dict literal does not close the tag
    while (true) {
      while (pos < s_.size() && is_space(s_[pos])) ++pos;
      if (pos >= s_.size()) error(open, std::string("a tag closed by ") + close, "the end of the template");
      if (depth == 0) {
        bool dash = s_[pos] == '-' && s_.compare(pos + 1, 2, close) == 0;
        bool plus = !variable && s_[pos] == '+' && s_.compare(pos + 1, 2, close) == 0;
        if (dash || plus || s_.compare(pos, 2, close) == 0) {
          tokens_.push_back({variable ? Tok::kVarEnd : Tok::kBlockEnd, "", pos});
          pos += (dash || plus ? 3 : 2);
          strip_after = dash;
          if (!variable && !dash && pos < s_.size() && s_[pos] == '\n') ++pos;  // trim_blocks
          return pos;
        }
      }
      char c = s_[pos];
      if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        pos = lex_number(pos);
      } else if (is_name_start(c)) {
        size_t end = pos;
        while (end < s_.size() && is_name_char(s_[end])) ++end;
        tokens_.push_back({Tok::kName, s_.substr(pos, end - pos), pos});
        pos = end;
      } else {
        static const char* kOperators[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
                                           ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="};
        const char* found = nullptr;
        for (const char* op : kOperators)
          if (s_.compare(pos, std::strlen(op), op) == 0) { found = op; break; }
        if (!found) error(pos, "an expression", "the character '" + std::string(1, c) + "'");
        std::string op = found;
        if (op == "(" || op == "[" || op == "{") ++depth;
        if (op == ")" || op == "]" || op == "}") --depth;
        tokens_.push_back({Tok::kOp, op, pos});
        pos += op.size();
      }
    }
  }

  // Python's string escapes (Jinja decodes literals with "unicode-escape"); an unknown escape stays as written.
  size_t lex_string(size_t pos) {
    const char quote = s_[pos];
    std::string out;
    size_t i = pos + 1;
    auto hex = [&](size_t at, int digits) -> uint32_t {
      uint32_t v = 0;
      for (int k = 0; k < digits; ++k) {
        char h = at + k < s_.size() ? s_[at + k] : '\0';
        if (!std::isxdigit(static_cast<unsigned char>(h))) error(at, std::to_string(digits) + " hex digits", "'" + std::string(1, h) + "'");
        v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      return v;
    };
    while (true) {
      if (i >= s_.size()) error(pos, "a string literal closed by " + std::string(1, quote), "the end of the template");
      char c = s_[i];
      if (c == quote) break;
      if (c != '\\') {
        out += c, ++i;
        continue;
      }
      char e = i + 1 < s_.size() ? s_[i + 1] : '\0';
      i += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\n': break;  // a backslash-newline continues the line
        case 'x': utf8::append(out, hex(i, 2)); i += 2; break;
        case 'u': utf8::append(out, hex(i, 4)); i += 4; break;
        case 'U': utf8::append(out, hex(i, 8)); i += 8; break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < s_.size() && s_[i] >= '0' && s_[i] <= '7'; ++k) v = v * 8 + static_cast<uint32_t>(s_[i++] - '0');
            utf8::append(out, v);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    tokens_.push_back({Tok::kString, out, pos});
    return i + 1;
  }

  size_t lex_number(size_t pos) {
    size_t end = pos;
    bool is_float = false;
    while (end < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) ++end;
    if (end + 1 < s_.size() && s_[end] == '.' && std::isdigit(static_cast<unsigned char>(s_[end + 1]))) {
      is_float = true;
      for (++end; end < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[end])) || s_[end] == '_');) ++end;
    }
    if (end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
      size_t e = end + 1;
      if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
      if (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) {
        is_float = true;
        for (end = e; end < s_.size() && std::isdigit(static_cast<unsigned char>(s_[end]));) ++end;
      }
    }
    std::string digits;
    for (size_t k = pos; k < end; ++k)
      if (s_[k] != '_') digits += s_[k];
    Token token{is_float ? Tok::kFloat : Tok::kInt, digits, pos};
    try {
      if (is_float) token.number = std::stod(digits);
      else token.integer = std::stoll(digits);
    } catch (const std::exception&) {
      error(pos, "a number that fits 64 bits", digits);
    }
    tokens_.push_back(token);
    return end;
  }

  const std::string& s_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(const std::string& source) { return Lexer(source).run(); }

}  // namespace rlhf::jinja
