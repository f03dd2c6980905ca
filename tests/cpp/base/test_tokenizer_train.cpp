// BPE training: the first merges are the most frequent pairs (worked out by hand), the id layout and vocabulary size
// are as documented, training input errors are clear, and a saved tokenizer folder loads back with its special tokens.
// That HF tokenizers loads our tokenizer.json and encodes identically is checked in tests/python/test_tokenizers.py.
#include <gtest/gtest.h>

#include "tokenizer/bpe_train.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace rlhf {
namespace {

using test::bl;
using test::error_of;

TEST(BpeTrain, MergesMostFrequentPairsFirst) {
  // Pieces: "aaab" once, " aaab" twice. Pair counts: (a,a) 2 per piece = 6, (a,b) 3, (" ",a) 2.
  // First merge "a a" -> "aa"; then (aa,a) 3 and (a,b) 3 tie... after "aa": pieces [aa a b], [" " aa a b]:
  // (aa,a) 3, (a,b) 3, (" ",aa) 2: the tie goes to the smaller id pair, (aa,a) has the larger left id, so "a b".
  auto tokenizer = train_bpe({"aaab aaab aaab"}, 256 + 2, {});
  ASSERT_EQ(tokenizer->merges().size(), 2u);
  EXPECT_EQ(tokenizer->merges()[0], (std::pair<std::string, std::string>{"a", "a"}));
  EXPECT_EQ(tokenizer->merges()[1], (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_EQ(tokenizer->vocab_size(), 258);
  EXPECT_EQ(tokenizer->encode("aaab"), (std::vector<int64_t>{256, 257}));
}

TEST(BpeTrain, LayoutSpecialsThenBytesThenMerges) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.push_back("the cat sat on the mat, the end<|endoftext|>then the hat");
  BpeTrainOptions options;
  options.eos_token = "<|endoftext|>";
  options.pad_token = "<pad>";
  auto tokenizer = train_bpe(texts, 270, {"<|endoftext|>", "<pad>"}, options);
  EXPECT_EQ(tokenizer->vocab_size(), 270);
  EXPECT_EQ(tokenizer->token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tokenizer->token_to_id("<pad>"), 1);
  EXPECT_EQ(tokenizer->token_to_id(bl("!")), 2 + '!');
  EXPECT_EQ(tokenizer->eos_id(), 0);
  EXPECT_EQ(tokenizer->pad_id(), 1);
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_TRUE(tokenizer->is_special(0));
  EXPECT_GE(tokenizer->token_to_id(bl(" the")), 258);  // the most frequent word became a token
  // The special token was cut out of the training text: no merge spells any part of it across its "|".
  for (const auto& [left, right] : tokenizer->merges()) EXPECT_EQ((left + right).find("|>"), std::string::npos);
  for (const std::string text : {"the cat<|endoftext|>", "unseen \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 text\n\n"})
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
}

TEST(BpeTrain, BadInputIsAnError) {
  EXPECT_NE(error_of([] { train_bpe({"x"}, 100, {}); }).find("vocab_size: expected at least 256"), std::string::npos);
  EXPECT_NE(error_of([] { train_bpe({"x"}, 300, {"<a>", "<a>"}); }).find("distinct"), std::string::npos);
  BpeTrainOptions options;
  options.bos_token = "<s>";
  EXPECT_NE(error_of([&] { train_bpe({"x"}, 300, {"<a>"}, options); }).find("bos_token: expected one of the special tokens"),
            std::string::npos);
  EXPECT_NE(error_of([] { train_bpe({"ok", "bad \xC3"}, 300, {}); }).find("training text 1: expected valid UTF-8"),
            std::string::npos);
}

TEST(BpeTrain, StopsWhenNoPairIsFrequentEnough) {
  auto tokenizer = train_bpe({"abcdefg"}, 1000, {});  // every pair seen once: below min_frequency 2
  EXPECT_EQ(tokenizer->merges().size(), 0u);
  EXPECT_EQ(tokenizer->vocab_size(), 256);
}

TEST(BpeTrain, SavedFolderLoadsWithItsSpecialTokens) {
  BpeTrainOptions options;
  options.bos_token = options.eos_token = "<|endoftext|>";
  auto tokenizer = train_bpe({"hello hello hello world world"}, 270, {"<|endoftext|>"}, options);
  std::string dir = test::temp_dir("trained");
  tokenizer->save_pretrained(dir);
  auto loaded = load_tokenizer(dir);
  EXPECT_EQ(loaded->bos_id(), 0);
  EXPECT_EQ(loaded->eos_id(), 0);
  EXPECT_EQ(loaded->pad_id(), -1);
  EXPECT_EQ(loaded->vocab_size(), tokenizer->vocab_size());
  for (const char* text : {"hello world", " world<|endoftext|>hello"}) EXPECT_EQ(loaded->encode(text), tokenizer->encode(text));
}

}  // namespace
}  // namespace rlhf
