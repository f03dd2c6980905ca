// SentencePiece tokenizer.model files: corrupt ones are clear errors (never crashes); a model trained here by
// libsentencepiece's own trainer round-trips text, matches control tokens written in the text, and streams characters
// that fall back to byte pieces without printing broken UTF-8. Id-for-id parity with Python's sentencepiece on real
// text is in tests/python/test_tokenizers.py.
#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <random>

#include "common/files.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace rlhf {
namespace {

using test::error_of;

// A small Llama-2-style model (BPE, byte fallback, bos=1 eos=2 unk=0; 3 + 256 bytes + characters + merges = 400
// pieces), trained once for the whole suite.
const std::string& trained_model() {
  static const std::string path = [] {
    std::string dir = test::temp_dir("sp_model");
    std::string corpus;
    const char* sentences[] = {"The quick brown fox jumps over the lazy dog.", "A stitch in time saves nine.",
                               "Hello world, hello tokenizer!", "Numbers like 12345 and 67890 appear here.",
                               "She sells sea shells by the sea shore."};
    for (int i = 0; i < 200; ++i) corpus += std::string(sentences[i % 5]) + "\n";
    test::write_file(dir + "/corpus.txt", corpus);
    auto status = sentencepiece::SentencePieceTrainer::Train(
        {{"input", dir + "/corpus.txt"}, {"model_prefix", dir + "/tokenizer"}, {"vocab_size", "400"},
         {"model_type", "bpe"}, {"byte_fallback", "true"}, {"character_coverage", "1.0"}, {"minloglevel", "2"},
         {"bos_id", "1"}, {"eos_id", "2"}, {"unk_id", "0"}, {"num_threads", "1"}});
    EXPECT_TRUE(status.ok()) << status.ToString();
    return dir + "/tokenizer.model";
  }();
  return path;
}

TEST(SentencePiece, CorruptModelsAreErrors) {
  std::string dir = test::temp_dir("sp_corrupt");
  std::string message = error_of([&] { load_tokenizer(test::write_file(dir + "/empty.model", "")); });
  EXPECT_NE(message.find("empty.model: expected a SentencePiece model"), std::string::npos) << message;
  EXPECT_NE(message.find("an empty file"), std::string::npos) << message;

  message = error_of([&] { SentencePieceTokenizer::from_file(test::write_file(dir + "/json.model", "{\"model\": 1}")); });
  EXPECT_NE(message.find("JSON text"), std::string::npos) << message;

  std::mt19937 rng(1);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  message = error_of([&] { load_tokenizer(test::write_file(dir + "/noise.model", noise)); });
  EXPECT_NE(message.find("noise.model: expected a SentencePiece model"), std::string::npos) << message;

  // A real model cut short at many points: every prefix is rejected or loads, none crashes.
  std::string real = read_file(trained_model());
  for (size_t cut : {size_t{1}, size_t{7}, real.size() / 3, real.size() / 2, real.size() - 5}) {
    std::string path = test::write_file(dir + "/cut.model", real.substr(0, cut));
    message = error_of([&] { load_tokenizer(path)->encode("hello"); });
    EXPECT_NE(message.find("cut.model"), std::string::npos) << "cut at " << cut << ": " << message;
  }
  // Random byte flips inside a real model: loads (and then encodes) or is an rlhf::Error, never a crash.
  for (int round = 0; round < 100; ++round) {
    std::string mutated = real;
    for (int k = 0; k < 4; ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    std::string path = test::write_file(dir + "/flipped.model", mutated);
    try {
      load_tokenizer(path)->decode(load_tokenizer(path)->encode("hello world 123"));
    } catch (const Error&) {
    }
  }
  message = error_of([&] { load_tokenizer(dir + "/missing.model"); });
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
}

TEST(SentencePiece, RoundTripsAndSpecialIds) {
  auto tokenizer = load_tokenizer(trained_model());
  EXPECT_EQ(tokenizer->kind(), "sentencepiece");
  EXPECT_EQ(tokenizer->vocab_size(), 400);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->pad_id(), -1);
  EXPECT_EQ(tokenizer->token_to_id("</s>"), 2);
  EXPECT_EQ(tokenizer->token_to_id("no such piece"), -1);
  for (const char* text : {"Hello world, hello tokenizer!", "The fox sells 42 shells.", "Z\xC3\xBCrich \xF0\x9F\x98\x80 z"}) {
    auto ids = tokenizer->encode(text);
    EXPECT_EQ(tokenizer->decode(ids), text);
    auto with_bos = tokenizer->encode(text, true);
    EXPECT_EQ(with_bos.front(), 1);
    EXPECT_EQ(std::vector<int64_t>(with_bos.begin() + 1, with_bos.end()), ids);
  }
  // Control tokens written in the text are single tokens; decode writes them back unless skip_special.
  auto ids = tokenizer->encode("Hello</s>");
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(tokenizer->decode(ids), "Hello</s>");
  EXPECT_EQ(tokenizer->decode(ids, true), "Hello");
  EXPECT_TRUE(tokenizer->is_special(2));
}

TEST(SentencePiece, StreamsByteFallbackCharacters) {
  auto tokenizer = load_tokenizer(trained_model());
  std::string text = "fox \xF0\x9F\x98\x80\xE2\x82\xAC!";  // emoji and euro sign are not in the model: byte pieces
  auto ids = tokenizer->encode(text);
  StreamDecoder decoder(*tokenizer);
  std::string all;
  int empty_pushes = 0;
  for (int64_t id : ids) {
    std::string piece = decoder.push(id);
    EXPECT_EQ(utf8::first_invalid(piece), std::string::npos);
    empty_pushes += piece.empty();
    all += piece;
  }
  all += decoder.flush();
  EXPECT_EQ(all, text);
  EXPECT_GE(empty_pushes, 3 + 2);  // 4-byte and 3-byte characters wait for their last byte
}

TEST(SentencePiece, ModelDirectoryAddsTokensAndConfig) {
  std::string dir = test::temp_dir("sp_dir");
  std::filesystem::copy_file(trained_model(), dir + "/tokenizer.model");
  test::write_file(dir + "/tokenizer_config.json",
                   R"({"bos_token": "<s>", "eos_token": "<|im_end|>", "pad_token": null,
                       "added_tokens_decoder": {"2": {"content": "</s>", "special": true},
                                                "400": {"content": "<|im_end|>", "special": true}}})");
  auto tokenizer = load_tokenizer(dir);
  EXPECT_EQ(tokenizer->vocab_size(), 401);
  EXPECT_EQ(tokenizer->eos_id(), 400);
  EXPECT_EQ(tokenizer->encode("Hello<|im_end|>").back(), 400);
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("Hello<|im_end|>")), "Hello<|im_end|>");
  test::write_file(dir + "/tokenizer_config.json", R"({"added_tokens_decoder": {"2": {"content": "<eos>"}}})");
  std::string message = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(message.find("the piece \"</s>\""), std::string::npos) << message;
}

}  // namespace
}  // namespace rlhf
