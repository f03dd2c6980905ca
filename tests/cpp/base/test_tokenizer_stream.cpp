// UTF-8 repair and the stream decoder: characters split across tokens are held back until complete, never printed
// broken; what the stream prints adds up to decode(). Expected U+FFFD counts are those HF tokenizers / Python give
// ("maximal subpart" replacement).
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace rlhf {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Utf8, ToValidReplacesMaximalSubparts) {
  EXPECT_EQ(utf8::to_valid("plain \xE2\x82\xAC"), "plain \xE2\x82\xAC");
  EXPECT_EQ(utf8::to_valid("\xE4\xBD"), kReplacement);                  // cut-off character: one U+FFFD
  EXPECT_EQ(utf8::to_valid("\xE4\xBD" "A"), kReplacement + "A");
  EXPECT_EQ(utf8::to_valid("\xF0\x9F\x98"), kReplacement);
  EXPECT_EQ(utf8::to_valid("\xED\xA0\x80"), repeat(kReplacement, 3));    // surrogate: every byte
  EXPECT_EQ(utf8::to_valid("\xC0\xAF"), repeat(kReplacement, 2));        // overlong
  EXPECT_EQ(utf8::to_valid("\xF4\x90\x80\x80"), repeat(kReplacement, 4));  // above U+10FFFF
  EXPECT_EQ(utf8::to_valid("\xFF" "A"), kReplacement + "A");
}

TEST(Utf8, IncompleteTailIsOnlyACharacterThatCouldStillComplete) {
  EXPECT_EQ(utf8::incomplete_tail("ab\xE4\xBD"), 2u);
  EXPECT_EQ(utf8::incomplete_tail("ab\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8::incomplete_tail("ab\xF0"), 1u);
  EXPECT_EQ(utf8::incomplete_tail("ab\xE4\xBD\xA0"), 0u);  // complete
  EXPECT_EQ(utf8::incomplete_tail("ab\xBD"), 0u);          // stray continuation byte: invalid, not pending
  EXPECT_EQ(utf8::incomplete_tail("ab\xED\xA0"), 0u);      // would be a surrogate: invalid already
  EXPECT_EQ(utf8::first_invalid("ok\xC3("), 2u);
}

// Every byte its own token (no merges), so multi-byte characters are always split across tokens.
std::unique_ptr<BpeTokenizer> byte_tokenizer() {
  return BpeTokenizer::from_json_text(test::tiny_spec().dump(), "bytes.json");
}

std::vector<std::string> stream(const Tokenizer& tokenizer, const std::vector<int64_t>& ids, std::string* flushed) {
  StreamDecoder decoder(tokenizer);
  std::vector<std::string> pieces;
  for (int64_t id : ids) pieces.push_back(decoder.push(id));
  *flushed = decoder.flush();
  return pieces;
}

TEST(StreamDecoder, HoldsSplitCharactersBack) {
  auto tokenizer = byte_tokenizer();
  std::string text = "\xE2\x82\xAC\xF0\x9F\x98\x80" "a";  // "€😀a"
  std::vector<int64_t> ids = tokenizer->encode(text);
  ASSERT_EQ(ids.size(), 8u);
  std::string flushed;
  auto pieces = stream(*tokenizer, ids, &flushed);
  EXPECT_EQ(pieces, (std::vector<std::string>{"", "", "\xE2\x82\xAC", "", "", "", "\xF0\x9F\x98\x80", "a"}));
  EXPECT_EQ(flushed, "");
}

TEST(StreamDecoder, InvalidBytesComeOutAsReplacementCharacters) {
  auto tokenizer = byte_tokenizer();
  std::string flushed;
  auto pieces = stream(*tokenizer, {0xE2, 'A', 0xF0, 0x9F}, &flushed);
  EXPECT_EQ(pieces, (std::vector<std::string>{"", kReplacement + "A", "", ""}));
  EXPECT_EQ(flushed, kReplacement);  // a character cut off by the end of the stream
}

TEST(StreamDecoder, RandomStreamsAddUpToDecode) {
  auto tokenizer = byte_tokenizer();
  std::string folder = test::gpt2_folder();
  std::unique_ptr<Tokenizer> gpt2 = folder.empty() ? nullptr : load_tokenizer(folder);
  std::mt19937 rng(3);
  for (int round = 0; round < 400; ++round) {
    const Tokenizer& t = (gpt2 && round % 2) ? *gpt2 : *tokenizer;
    std::vector<int64_t> ids;
    int length = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < length; ++i) {
      // Mostly high bytes (lead and continuation bytes), the rest anywhere in the vocabulary.
      ids.push_back(rng() % 3 ? 0x80 + static_cast<int64_t>(rng() % 0x80) : static_cast<int64_t>(rng() % t.vocab_size()));
    }
    std::string flushed, all;
    for (const std::string& piece : stream(t, ids, &flushed)) {
      EXPECT_EQ(utf8::first_invalid(piece), std::string::npos);
      all += piece;
    }
    EXPECT_EQ(utf8::first_invalid(flushed), std::string::npos);
    EXPECT_EQ(all + flushed, t.decode(ids)) << "round " << round;
  }
}

}  // namespace
}  // namespace rlhf
