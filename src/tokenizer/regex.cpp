#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "common/error.h"

namespace rlhf {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

// Match data and a JIT stack per thread: the pre-tokenizer runs from several threads at once (data loaders), and
// PCRE2's match data is not shareable. The JIT stack is larger than PCRE2's 32 KiB default because patterns such as
// \s+(?!\S) backtrack over long whitespace runs.
struct ThreadState {
  pcre2_match_data* match_data = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  pcre2_match_context* context = nullptr;
  ThreadState() {
    match_data = pcre2_match_data_create(8, nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (jit_stack && context) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~ThreadState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(match_data);
  }
};

ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern, const std::string& where)
    : where_(where), impl_(std::make_unique<Impl>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &error_code, &error_offset, nullptr);
  if (!impl_->code) {
    fail(where, "a regular expression PCRE2 accepts",
         "'" + pattern + "' (" + pcre2_message(error_code) + " at offset " + std::to_string(error_offset) + ")");
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // best effort: the interpreter is the fallback
}

Regex::~Regex() = default;

std::vector<std::pair<size_t, size_t>> Regex::find_all(const std::string& text, size_t begin, size_t end) const {
  ThreadState& state = thread_state();
  std::vector<std::pair<size_t, size_t>> matches;
  // The subject is exactly text[begin, end), as HF runs the pattern on each split alone: lookarounds and anchors must
  // not see the neighbouring text.
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
  size_t length = end - begin, offset = 0;
  while (offset < length) {
    // The text was validated as UTF-8 once by the caller; PCRE2_NO_UTF_CHECK avoids re-checking it at every match.
    int rc = pcre2_match(impl_->code, subject, length, offset, PCRE2_NO_UTF_CHECK, state.match_data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail(where_, "the pattern to run on the text", "PCRE2 error: " + pcre2_message(rc));
    PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data);
    size_t start = ovector[0], stop = ovector[1];
    if (stop > start) {
      matches.emplace_back(begin + start, begin + stop);
      offset = stop;
    } else {
      // Empty match: step over one whole character so that the next search starts on a character boundary.
      offset = start + 1;
      while (offset < length && (subject[offset] & 0xC0) == 0x80) ++offset;
    }
  }
  return matches;
}

bool Regex::search(const std::string& text, size_t begin, size_t end) const {
  ThreadState& state = thread_state();
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data() + begin), end - begin, 0,
                       PCRE2_NO_UTF_CHECK, state.match_data, state.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail(where_, "the pattern to run on the text", "PCRE2 error: " + pcre2_message(rc));
  return true;
}

}  // namespace rlhf
