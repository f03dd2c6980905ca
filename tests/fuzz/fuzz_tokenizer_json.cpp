// tokenizer.json loader (tokenizer/bpe.h): any bytes as a tokenizer.json. An accepted tokenizer must encode and decode
// without crashing, give ids inside its vocabulary, and load again from the tokenizer.json it writes.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "tokenizer/bpe.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::accepts([&] {
    auto tokenizer = BpeTokenizer::from_json_text(text, "fuzz/tokenizer.json");
    const int64_t vocab = tokenizer->vocab_size();
    std::vector<int64_t> all;
    for (const char* sample : {"Hello world! 123 4567", " leading  spaces\n\ttabs\r\n", "ünïcödé 日本語 🤗",
                               "<|endoftext|>x<|endoftext|>", ""}) {
      fuzz::accepts([&] {  // a tokenizer without a token for some byte reports it
        auto ids = tokenizer->encode(sample, true);
        for (int64_t id : ids) FUZZ_EXPECT(id >= 0 && id < vocab);
        all.insert(all.end(), ids.begin(), ids.end());
      });
    }
    for (int64_t id : {int64_t{-1}, int64_t{0}, vocab - 1, vocab, vocab + 1000}) all.push_back(id);
    tokenizer->decode(all);
    tokenizer->decode(all, true);
    for (int64_t id = 0; id < vocab && id < 512; ++id) tokenizer->token_to_id(tokenizer->id_to_token(id));
    auto again = BpeTokenizer::from_json_text(tokenizer->to_json(), "fuzz/tokenizer.json (written back)");
    FUZZ_EXPECT(again->vocab_size() == vocab);
  });
  return 0;
}
