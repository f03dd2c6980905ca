// Chat templates (tokenizer/chat_template.h, the Jinja subset of tokenizer/jinja.h): any bytes as a template, parsed,
// then rendered on a fixed conversation with and without the generation prompt.
#include "fuzz_util.h"
#include "tokenizer/chat_template.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  const std::vector<ChatMessage> chat = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", " Hello \n"}, {"user", "Über 😀"}};
  fuzz::accepts([&] {
    ChatTemplate tmpl(source, {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
    fuzz::accepts([&] { tmpl.render(chat, true); });
    fuzz::accepts([&] { tmpl.render(chat, false); });
  });
  return 0;
}
