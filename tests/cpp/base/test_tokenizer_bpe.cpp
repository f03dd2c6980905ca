// Byte-level BPE: corrupt and unsupported tokenizer.json files give errors that name the problem; merge semantics on
// hand-made vocabularies (expected ids worked out by hand); GPT-2's real files give the ids HF's GPT2TokenizerFast
// gives (golden values produced by transformers 4.57 / tokenizers 0.22). The full comparison with HF runs in
// tests/python/test_tokenizers.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace rlhf {
namespace {

using json = nlohmann::json;
using test::bl;
using test::error_of;
using test::tiny_spec;

std::unique_ptr<BpeTokenizer> from_spec(const json& spec) { return BpeTokenizer::from_json_text(spec.dump(), "t.json"); }

std::string spec_error(const json& spec) {
  return error_of([&] { from_spec(spec); });
}

std::vector<int64_t> ids(const BpeTokenizer& tokenizer, std::initializer_list<std::string> raw_tokens) {
  std::vector<int64_t> result;
  for (const auto& token : raw_tokens) result.push_back(tokenizer.token_to_id(bl(token)));
  return result;
}

TEST(BpeJson, InvalidJsonIsAnError) {
  std::string message = error_of([] { BpeTokenizer::from_json_text("{\"model\": {", "bad.json"); });
  EXPECT_NE(message.find("bad.json: expected valid JSON"), std::string::npos) << message;
  message = error_of([] { BpeTokenizer::from_json_text("[1, 2]", "list.json"); });
  EXPECT_NE(message.find("a JSON object"), std::string::npos) << message;
}

TEST(BpeJson, MissingModelIsAnError) {
  json spec = tiny_spec();
  spec.erase("model");
  EXPECT_NE(spec_error(spec).find("t.json: expected a \"model\" field, found none"), std::string::npos) << spec_error(spec);
  spec = tiny_spec();
  spec["model"].erase("merges");
  EXPECT_NE(spec_error(spec).find("\"merges\""), std::string::npos) << spec_error(spec);
}

TEST(BpeJson, MergesNamingUnknownTokensAreErrors) {
  json spec = tiny_spec();
  spec["model"]["merges"] = {"Ġ t"};  // both parts exist, the merged "Ġt" does not
  std::string message = spec_error(spec);
  EXPECT_NE(message.find("t.json: merges[0] \"Ġ t\": expected the merged token in the vocab, found no token \"Ġt\""),
            std::string::npos) << message;
  spec["model"]["vocab"]["Ġt"] = 300;
  spec["model"]["merges"] = {"Ġ t", "Ġ zz"};
  message = spec_error(spec);
  EXPECT_NE(message.find("merges[1] \"Ġ zz\": expected tokens of the vocab, found unknown token \"zz\""), std::string::npos)
      << message;
}

TEST(BpeJson, MalformedMergesAreErrors) {
  json spec = tiny_spec();
  spec["model"]["merges"] = {"a b c"};
  EXPECT_NE(spec_error(spec).find("two tokens, one space"), std::string::npos) << spec_error(spec);
  spec["model"]["merges"] = {json::array({"a"})};
  EXPECT_NE(spec_error(spec).find("merges[0]"), std::string::npos) << spec_error(spec);
  spec["model"]["merges"] = {42};
  EXPECT_NE(spec_error(spec).find("merges[0]"), std::string::npos) << spec_error(spec);
  spec = tiny_spec();
  spec["model"]["vocab"]["x"] = "seven";
  EXPECT_NE(spec_error(spec).find("an integer id"), std::string::npos) << spec_error(spec);
  spec = tiny_spec();
  spec["added_tokens"][0].erase("id");
  EXPECT_NE(spec_error(spec).find("added_tokens[0].id"), std::string::npos) << spec_error(spec);
}

TEST(BpeJson, UnsupportedFeaturesAreNamed) {
  struct Case {
    const char* path;  // JSON pointer to replace
    json value;
    const char* named;
  };
  std::vector<Case> cases = {
      {"/model/type", "WordPiece", "unsupported model type \"WordPiece\""},
      {"/model/type", "Unigram", "unsupported model type \"Unigram\""},
      {"/model/byte_fallback", true, "byte_fallback"},
      {"/model/continuing_subword_prefix", "##", "continuing_subword_prefix"},
      {"/model/dropout", 0.1, "dropout"},
      {"/normalizer", {{"type", "Lowercase"}}, "unsupported normalizer type \"Lowercase\""},
      {"/normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "NFKC"}}}}}, "\"NFKC\""},
      {"/pre_tokenizer", {{"type", "Metaspace"}}, "unsupported pre-tokenizer type \"Metaspace\""},
      {"/pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}}, "\"Whitespace\""},
      {"/pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Isolated"}}, "ByteLevel"},
      {"/pre_tokenizer", nullptr, "null"},
      {"/pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}}, "PCRE2 accepts"},
      {"/pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "x"}}}, {"behavior", "Sideways"}}, "Sideways"},
      {"/decoder", {{"type", "WordPiece"}}, "unsupported decoder type \"WordPiece\""},
      {"/decoder", nullptr, "ByteLevel decoder"},
  };
  for (const Case& c : cases) {
    json spec = tiny_spec();
    spec[json::json_pointer(c.path)] = c.value;
    std::string message = spec_error(spec);
    EXPECT_NE(message.find(c.named), std::string::npos) << c.path << ": " << message;
    EXPECT_EQ(message.rfind("t.json", 0), 0u) << message;
  }
}

TEST(BpeJson, NfcAndSupportedPreTokenizersLoad) {
  json spec = tiny_spec();
  spec["normalizer"] = {{"type", "NFC"}};
  spec["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}{1,3}"}}}, {"behavior", "Isolated"}, {"invert", false}},
                             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  auto tokenizer = from_spec(spec);
  // Decomposed "é" (e + U+0301) is composed to U+00E9 (bytes C3 A9) before the bytes are looked up.
  EXPECT_EQ(tokenizer->encode("e\xCC\x81"), (std::vector<int64_t>{0xC3, 0xA9}));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("12345")), "12345");
}

TEST(BpeJson, RandomCorruptionsAreErrorsNotCrashes) {
  // Byte flips, truncations and deletions of a valid file: each load either works or throws rlhf::Error (any other
  // exception, or a crash under the sanitizer build, fails).
  const std::string valid = tiny_spec({{"h", "e"}, {" ", "t"}}).dump();
  std::mt19937 rng(11);
  int errors = 0;
  for (int round = 0; round < 300; ++round) {
    std::string text = valid;
    switch (round % 3) {
      case 0: for (int k = 0; k < 3; ++k) text[rng() % text.size()] = static_cast<char>(rng()); break;
      case 1: text.resize(rng() % text.size()); break;
      case 2: text.erase(rng() % text.size(), 1 + rng() % 40); break;
    }
    try {
      BpeTokenizer::from_json_text(text, "mutated.json")->encode("the test");
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).rfind("mutated.json", 0), 0u) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an rlhf::Error: " << e.what();
    }
  }
  EXPECT_GT(errors, 250);
}

TEST(Bpe, MergesApplyByRankLeftmostFirst) {
  // "abc": with (b,c) ranked before (a,b), "bc" forms first and (a,b) never can; swapped ranks give "ab" + "c".
  auto bc_first = from_spec(tiny_spec({{"b", "c"}, {"a", "b"}}));
  EXPECT_EQ(bc_first->encode("abc"), ids(*bc_first, {"a", "bc"}));
  auto ab_first = from_spec(tiny_spec({{"a", "b"}, {"b", "c"}}));
  EXPECT_EQ(ab_first->encode("abc"), ids(*ab_first, {"ab", "c"}));
  // "aaa" with (a,a): the leftmost pair merges first.
  auto aa = from_spec(tiny_spec({{"a", "a"}}));
  EXPECT_EQ(aa->encode("aaa"), ids(*aa, {"aa", "a"}));
  // Chains: " the" -> (h,e), (" ",t), (" t",he).
  auto the = from_spec(tiny_spec({{"h", "e"}, {" ", "t"}, {" t", "he"}}));
  EXPECT_EQ(the->encode("the the"), ids(*the, {"t", "he", " the"}));
}

TEST(Bpe, BothMergeFormsAgree) {
  json pairs = tiny_spec({{"h", "e"}, {" ", "t"}, {" t", "he"}});
  json strings = pairs;
  for (auto& merge : strings["model"]["merges"]) merge = merge[0].get<std::string>() + " " + merge[1].get<std::string>();
  auto a = from_spec(pairs), b = from_spec(strings);
  for (const char* text : {"the the", " then", "hehe the"}) EXPECT_EQ(a->encode(text), b->encode(text)) << text;
  EXPECT_EQ(a->merges(), b->merges());
}

TEST(Bpe, IgnoreMergesTakesWholeVocabularyWords) {
  json spec = tiny_spec({{"b", "c"}});
  spec["model"]["vocab"]["abc"] = 400;  // in the vocab, but no merge path builds it
  auto merging = from_spec(spec);
  EXPECT_EQ(merging->encode("abc"), ids(*merging, {"a", "bc"}));
  spec["model"]["ignore_merges"] = true;
  auto whole = from_spec(spec);
  EXPECT_EQ(whole->encode("abc"), (std::vector<int64_t>{400}));
  EXPECT_EQ(whole->encode("abcd"), ids(*whole, {"a", "bc", "d"}));  // not a vocab word: merges as usual
}

TEST(Bpe, AddedTokensAreMatchedLiterally) {
  auto tokenizer = from_spec(tiny_spec({{"a", "b"}}));
  int64_t eot = tokenizer->token_to_id("<|endoftext|>");
  ASSERT_GE(eot, 256);
  EXPECT_TRUE(tokenizer->is_special(eot));
  EXPECT_EQ(tokenizer->encode("ab<|endoftext|>ab"), (std::vector<int64_t>{256, eot, 256}));
  EXPECT_EQ(tokenizer->decode({256, eot, 256}), "ab<|endoftext|>ab");
  EXPECT_EQ(tokenizer->decode({256, eot, 256}, true), "abab");
  EXPECT_EQ(tokenizer->eos_id(), eot);  // "<|endoftext|>" is GPT-2's BOS and EOS

  // lstrip/rstrip absorb the whitespace around; single_word refuses a match inside a word (HF's semantics).
  json spec = tiny_spec();
  spec["added_tokens"].push_back({{"id", 300}, {"content", "<mask>"}, {"lstrip", true}, {"rstrip", true}, {"special", false}});
  spec["added_tokens"].push_back({{"id", 301}, {"content", "ony"}, {"single_word", true}, {"special", false}});
  auto options = from_spec(spec);
  EXPECT_EQ(options->encode("x \t<mask>  y"), (std::vector<int64_t>{'x', 300, 'y'}));
  EXPECT_EQ(options->encode("ony pony"), (std::vector<int64_t>{301, ' ', 'p', 'o', 'n', 'y'}));
}

TEST(Bpe, BadInputIsAnErrorAndUnknownIdsDecodeToNothing) {
  auto tokenizer = from_spec(tiny_spec());
  std::string message = error_of([&] { tokenizer->encode("ok \xFF bad"); });
  EXPECT_NE(message.find("expected valid UTF-8, found an invalid byte 0xFF at byte offset 3"), std::string::npos) << message;
  EXPECT_EQ(tokenizer->decode({-1, 5000000, 'h', 'i'}), "hi");
  EXPECT_EQ(tokenizer->encode(""), std::vector<int64_t>{});
  EXPECT_EQ(tokenizer->token_to_id("no such token"), -1);
  EXPECT_EQ(tokenizer->id_to_token(5000000), "");
}

TEST(Bpe, JsonRoundTripKeepsEverything) {
  json spec = tiny_spec({{"h", "e"}, {" ", "t"}, {" t", "he"}});
  spec["model"]["ignore_merges"] = true;
  auto original = from_spec(spec);
  auto reloaded = BpeTokenizer::from_json_text(original->to_json(), "saved.json");
  for (const char* text : {"the the<|endoftext|>", " then \xF0\x9F\x98\x80"})
    EXPECT_EQ(original->encode(text), reloaded->encode(text)) << text;
  EXPECT_EQ(original->vocab_size(), reloaded->vocab_size());
  EXPECT_TRUE(json::parse(original->to_json())["model"]["ignore_merges"].get<bool>());
}

TEST(Gpt2Files, EncodeKnownStrings) {
  std::string folder = test::gpt2_folder();
  if (folder.empty()) GTEST_SKIP() << "../shared/data/gpt2-tokenizer is absent (shared data lives beside the clone)";
  auto tokenizer = load_tokenizer(folder);
  EXPECT_EQ(tokenizer->kind(), "bpe");
  EXPECT_EQ(tokenizer->vocab_size(), 50257);
  EXPECT_EQ(tokenizer->eos_id(), 50256);
  struct Case { std::string text; std::vector<int64_t> ids; };
  std::vector<Case> cases = {
      {"Hello world", {15496, 995}},
      {"Hello, world!", {15496, 11, 995, 0}},
      {" Hello", {18435}},
      {"<|endoftext|>", {50256}},
      {"I'm here, they'll see.\n\n  Done", {40, 1101, 994, 11, 484, 1183, 766, 13, 628, 220, 24429}},
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 na\xC3\xAFve", {33768, 98, 17312, 105, 45739, 252, 30325, 222, 41492}},
      {"Hello world, <|endoftext|> h\xC3\xA9llo 12345 \xF0\x9F\x98\x80",
       {15496, 995, 11, 220, 50256, 289, 2634, 18798, 17031, 2231, 30325, 222}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(tokenizer->encode(c.text), c.ids) << c.text;
    EXPECT_EQ(tokenizer->decode(c.ids), c.text);
  }
}

TEST(Gpt2Files, BrokenMergesTxtNamesTheLine) {
  std::string folder = test::gpt2_folder();
  if (folder.empty()) GTEST_SKIP() << "../shared/data/gpt2-tokenizer is absent (shared data lives beside the clone)";
  std::string dir = test::temp_dir("gpt2_broken");
  std::filesystem::copy_file(folder + "/vocab.json", dir + "/vocab.json");
  test::write_file(dir + "/merges.txt", "#version: 0.2\nĠ t\nh e extra\n");
  std::string message = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(message.find("merges.txt:3: expected \"left right\""), std::string::npos) << message;
  test::write_file(dir + "/merges.txt", "#version: 0.2\nĠ t\nĠ qqqq\n");
  message = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(message.find("merges.txt:3: expected tokens of"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown token \"qqqq\""), std::string::npos) << message;
}

TEST(LoadTokenizer, PathsAndConfigs) {
  std::string message = error_of([] { load_tokenizer("/no/such/tokenizer.json"); });
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
  std::string dir = test::temp_dir("load_dir");
  message = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(message.find("tokenizer.json, tokenizer.model, or vocab.json + merges.txt"), std::string::npos) << message;

  json spec = tiny_spec({{"a", "b"}});
  spec["added_tokens"].push_back({{"id", 300}, {"content", "<pad>"}, {"special", true}});
  test::write_file(dir + "/tokenizer.json", spec.dump());
  // tokenizer_config.json names tokens as strings or AddedToken objects; null means none.
  test::write_file(dir + "/tokenizer_config.json",
                   R"({"bos_token": null, "eos_token": {"content": "<|endoftext|>", "__type": "AddedToken"}, "pad_token": "<pad>"})");
  auto tokenizer = load_tokenizer(dir);
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_EQ(tokenizer->eos_id(), tokenizer->token_to_id("<|endoftext|>"));
  EXPECT_EQ(tokenizer->pad_id(), 300);
  EXPECT_EQ(load_tokenizer(dir + "/tokenizer.json")->bos_id(), tokenizer->eos_id());  // no config: GPT-2's guess
  // Without a config, a TemplateProcessing post-processor that starts with a special token names the BOS (Llama-3).
  json templated = spec;
  templated["post_processor"] = {{"type", "TemplateProcessing"},
                                 {"single", {{{"SpecialToken", {{"id", "<pad>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}}}}}},
                                 {"special_tokens", {{"<pad>", {{"id", "<pad>"}, {"ids", {300}}, {"tokens", {"<pad>"}}}}}}};
  EXPECT_EQ(from_spec(templated)->bos_id(), 300);
  test::write_file(dir + "/tokenizer_config.json", R"({"pad_token": "<nope>"})");
  message = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(message.find("tokenizer_config.json: pad_token: expected a token of the tokenizer's vocabulary"), std::string::npos)
      << message;
  test::write_file(dir + "/tokenizer_config.json", "{oops");
  message = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(message.find("tokenizer_config.json: expected valid JSON"), std::string::npos) << message;
}

}  // namespace
}  // namespace rlhf
