// Prompt formats: the exact texts of each format, chat_template recognition (and refusal), and the prompt/response
// boundary in ids. Rendering parity with transformers' apply_chat_template is in
// tests/python/test_tokenizers.py.
#include <gtest/gtest.h>

#include "tokenizer/bpe.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer_test_util.h"

namespace rlhf {
namespace {

using test::error_of;

const char* kQwen2Template =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

TEST(PromptFormat, PlainAndHHTexts) {
  EXPECT_EQ(PromptFormat::plain().prompt_text("Add 2 and 3."), "Instruction: Add 2 and 3.\nResponse:");
  EXPECT_EQ(PromptFormat::plain().response_text("5"), " 5");
  EXPECT_EQ(PromptFormat::hh().prompt_text("Hi?"), "\n\nHuman: Hi?\n\nAssistant:");
  EXPECT_EQ(PromptFormat::hh().conversation_text({{"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}}),
            "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Bye\n\nAssistant:");
  EXPECT_NE(error_of([] { PromptFormat::hh().conversation_text({{"user", "Hi"}, {"assistant", "Hello."}}); })
                .find("the last message to be the user's"),
            std::string::npos);
  EXPECT_NE(error_of([] { PromptFormat::plain().conversation_text({{"user", "a"}, {"assistant", "b"}, {"user", "c"}}); })
                .find("a single user message"),
            std::string::npos);
}

TEST(PromptFormat, ChatTemplatesAreRendered) {
  PromptFormat qwen = PromptFormat::from_chat_template(kQwen2Template);
  EXPECT_EQ(qwen.name(), "chat");
  EXPECT_EQ(qwen.prompt_text("Hi"),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(qwen.conversation_text({{"system", "Be brief."}, {"user", "Hi"}}),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(qwen.response_text("Hello."), "Hello.");
  // Mistral's template (refused by the signature recognition this replaced): the system message joins the user turn,
  // the reply follows after a space, trimmed, closed by eos_token.
  PromptFormat mistral = PromptFormat::from_chat_template(
      "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]"
      "{% elif m.role == 'assistant' %} {{ m.content | trim }}{{ eos_token }}{% endif %}{% endfor %}",
      {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  EXPECT_EQ(mistral.conversation_text({{"user", "Hi"}, {"assistant", " Hello "}, {"user", "Bye"}}),
            "<s>[INST] Hi [/INST] Hello</s>[INST] Bye [/INST]");
  EXPECT_EQ(mistral.response_text(" Hello "), " Hello");
}

TEST(PromptFormat, TemplatesOutsideTheSubsetAreRefusedNamingTheConstruct) {
  std::string macro = error_of([] { PromptFormat::from_chat_template("{{ bos_token }}\n  {% macro f() %}x{% endmacro %}"); });
  EXPECT_NE(macro.find("chat_template:2:3"), std::string::npos) << macro;
  EXPECT_NE(macro.find("{% macro %}"), std::string::npos) << macro;
  std::string filter = error_of([] { PromptFormat::from_chat_template("{{ messages | wordcount }}"); });
  EXPECT_NE(filter.find("chat_template:1:15: unsupported Jinja construct filter 'wordcount'"), std::string::npos) << filter;
  std::string raised = error_of([] {
    PromptFormat::from_chat_template("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")
        .conversation_text({{"system", "s"}, {"user", "u"}});
  });
  EXPECT_NE(raised.find("System role not supported"), std::string::npos) << raised;
  EXPECT_NE(error_of([] { PromptFormat::from_name("alpaca"); }).find("plain, hh, chat"), std::string::npos);
  std::string dir = test::temp_dir("no_template");
  EXPECT_NE(error_of([&] { PromptFormat::from_name("chat", dir); }).find("a chat_template"), std::string::npos);
}

TEST(PromptFormat, ReadsTemplatesAndSpecialTokensFromModelDirectories) {
  std::string dir = test::temp_dir("templates");
  test::write_file(dir + "/tokenizer_config.json",
                   nlohmann::json({{"chat_template", {{{"name", "tool_use"}, {"template", "x"}},
                                                      {{"name", "default"}, {"template", kQwen2Template}}}}})
                       .dump());
  EXPECT_EQ(read_chat_template(dir), kQwen2Template);
  EXPECT_EQ(PromptFormat::from_name("chat", dir).prompt_text("Hi"),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  std::string jinja = test::temp_dir("jinja");
  test::write_file(jinja + "/chat_template.jinja", "{{ bos_token }}<|user|>\n{{ messages[0].content }}{{ eos_token }}");
  test::write_file(jinja + "/tokenizer_config.json",
                   R"({"bos_token": {"content": "<s>", "special": true}, "eos_token": "</s>", "pad_token": null})");
  EXPECT_EQ(PromptFormat::from_name("chat", jinja).prompt_text("Hi"), "<s><|user|>\nHi</s>");
}

TEST(PromptFormat, PromptAndResponseIdsAreEncodedApart) {
  std::string folder = test::gpt2_folder();
  std::unique_ptr<Tokenizer> tokenizer = folder.empty()
      ? std::unique_ptr<Tokenizer>(BpeTokenizer::from_json_text(test::tiny_spec({{" ", "t"}}).dump(), "tiny.json"))
      : load_tokenizer(folder);
  for (const PromptFormat& format : {PromptFormat::plain(), PromptFormat::hh()}) {
    PromptTokens tokens = format.encode(*tokenizer, "Name a colour.", "The sky is blue.");
    EXPECT_EQ(tokens.prompt_ids, tokenizer->encode(format.prompt_text("Name a colour.")));
    std::vector<int64_t> response = tokenizer->encode(" The sky is blue.");
    response.push_back(tokenizer->eos_id());
    EXPECT_EQ(tokens.response_ids, response);
    // These formats end where GPT-2's pre-tokenizer cuts, so the whole text encodes to the same ids.
    std::vector<int64_t> joint = tokenizer->encode(format.prompt_text("Name a colour.") + " The sky is blue.");
    std::vector<int64_t> apart = tokens.prompt_ids;
    apart.insert(apart.end(), tokens.response_ids.begin(), tokens.response_ids.end() - 1);
    EXPECT_EQ(apart, joint);
    EXPECT_EQ(format.encode(*tokenizer, "x", "", false).response_ids, std::vector<int64_t>{});
  }
  EXPECT_NE(error_of([&] { PromptFormat::chatml().encode(*tokenizer, "x", "y"); }).find("<|im_end|>"), std::string::npos);
  EXPECT_EQ(PromptFormat::hh().stop_ids(*tokenizer), std::vector<int64_t>{tokenizer->eos_id()});
}

TEST(PromptFormat, EveryAssistantReplyOfAConversationIsMarked) {
  std::string folder = test::gpt2_folder();
  if (folder.empty()) GTEST_SKIP() << "needs ../shared/data/gpt2-tokenizer";
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(folder);
  PromptFormat qwen = PromptFormat::from_chat_template(kQwen2Template);
  std::vector<ChatMessage> chat = {{"user", "Hi"}, {"assistant", "Hello."}, {"user", "Name a colour."}, {"assistant", "Blue."}};
  ConversationTokens turns = qwen.encode_turns(*tokenizer, chat);
  ASSERT_EQ(turns.ids.size(), turns.trained.size());
  // The ids are the rendered conversation up to the last reply's end-of-turn marker...
  std::string whole = qwen.chat_template()->render(chat, false);
  EXPECT_EQ(tokenizer->decode(turns.ids), whole.substr(0, whole.rfind("<|im_end|>") + 10));
  // ...and the trained ones are exactly the two replies, each with its marker.
  std::vector<std::string> replies;
  for (size_t i = 0; i < turns.ids.size(); ++i) {
    if (!turns.trained[i]) continue;
    if (i == 0 || !turns.trained[i - 1]) replies.emplace_back();
    replies.back() += tokenizer->decode({turns.ids[i]});
  }
  EXPECT_EQ(replies, (std::vector<std::string>{"Hello.<|im_end|>", "Blue.<|im_end|>"}));
  EXPECT_TRUE(turns.trained[turns.last_reply_start] && !turns.trained[turns.last_reply_start - 1]);
  // A template that writes an earlier turn differently once later turns follow leaves no boundary to find.
  PromptFormat moving = PromptFormat::from_chat_template(
      "{% set ns = namespace(last='') %}{% for m in messages if m.role == 'user' %}{% set ns.last = m.content %}{% endfor %}"
      "{% for m in messages %}{% if m.role == 'user' %}[INST]{% if m.content == ns.last %}!{% endif %}{{ m.content }}[/INST]"
      "{% else %}{{ m.content }}</s>{% endif %}{% endfor %}");
  std::string moved = error_of([&] { moving.encode_turns(*tokenizer, chat); });
  EXPECT_NE(moved.find("assistant turn 3"), std::string::npos) << moved;
  EXPECT_NE(error_of([&] { PromptFormat::chatml().encode_turns(*tokenizer, chat); }).find("--prompt_format chat"),
            std::string::npos);
}

}  // namespace
}  // namespace rlhf
