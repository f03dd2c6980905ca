// tokenizer.model loader (tokenizer/sentencepiece_tokenizer.h): any bytes as a SentencePiece model. An accepted model
// must encode and decode without crashing and give ids inside its vocabulary, also with legacy: false.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "tokenizer/sentencepiece_tokenizer.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fuzz::accepts([&] {
    auto tokenizer = SentencePieceTokenizer::from_serialized(bytes, "fuzz/tokenizer.model");
    const int64_t vocab = tokenizer->vocab_size();
    std::vector<int64_t> all;
    for (const char* sample : {"Hello world! 123", "ünïcödé 日本語 🤗", "<s>x</s><unk>", "  ", ""}) {
      auto ids = tokenizer->encode(sample, true);
      for (int64_t id : ids) FUZZ_EXPECT(id >= 0 && id < vocab);
      all.insert(all.end(), ids.begin(), ids.end());
    }
    // HF's legacy: false encoding (a second processor from the .model's bytes, edited): the same guarantees.
    tokenizer->set_legacy(false);
    for (const char* sample : {"Hello world! 123", "<s>x</s> y", "\xE2\x96\x81" "a b", "  ", ""}) {
      auto ids = tokenizer->encode(sample, true);
      for (int64_t id : ids) FUZZ_EXPECT(id >= 0 && id < vocab);
    }
    for (int64_t id : {int64_t{-1}, int64_t{0}, vocab - 1, vocab, vocab + 1000}) all.push_back(id);
    tokenizer->decode(all);
    tokenizer->decode(all, true);
    for (int64_t id = 0; id < vocab && id < 512; ++id) {
      tokenizer->token_to_id(tokenizer->id_to_token(id));
      tokenizer->score(id), tokenizer->piece_type(id);
    }
  });
  return 0;
}
