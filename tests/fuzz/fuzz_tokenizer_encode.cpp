// Tokenizer encode/decode on fixed tokenizers (a byte-level BPE tokenizer.json and a SentencePiece tokenizer.model,
// both made by the reference libraries: tests/fuzz/make_seeds.py) with any text and any ids:
//   - byte-level BPE without a normalizer is lossless: decode(encode(text)) == text for valid UTF-8 (invalid UTF-8 is
//     an rlhf::Error);
//   - ids never leave the vocabulary; decoding any ids (unknown, negative) gives valid UTF-8;
//   - the stream decoder's pieces add up to decode(ids).
// Input: byte 0 picks the tokenizer, the rest is the text, also read as int16 ids.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/files.h"
#include "fuzz_util.h"
#include "tokenizer/bpe.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/utf8.h"
#include "../source_dir.h"

using namespace rlhf;

namespace {
std::unique_ptr<Tokenizer> g_bpe, g_sentencepiece;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string data = std::string(rlhf::test::source_dir()) + "/tests/fuzz/data/";
  g_bpe = BpeTokenizer::from_json_file(data + "tokenizer.json");
  g_sentencepiece = SentencePieceTokenizer::from_file(data + "tokenizer.model");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool bpe = (data[0] & 1) == 0;
  const Tokenizer& tokenizer = bpe ? *g_bpe : *g_sentencepiece;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const int64_t vocab = tokenizer.vocab_size();

  fuzz::accepts([&] {
    auto ids = tokenizer.encode(text, (data[0] & 2) != 0);
    for (int64_t id : ids) FUZZ_EXPECT(id >= 0 && id < vocab);
    const std::string decoded = tokenizer.decode(ids);
    FUZZ_EXPECT(utf8::first_invalid(decoded) == std::string::npos);
    if (bpe && (data[0] & 2) == 0) FUZZ_EXPECT(decoded == text);
  });

  std::vector<int64_t> ids;
  for (size_t i = 1; i + 1 < size; i += 2) {
    int16_t id;
    std::memcpy(&id, data + i, 2);
    ids.push_back(id % (vocab + 8));  // mostly real ids, some unknown and negative ones
  }
  const bool skip_special = (data[0] & 4) != 0;
  const std::string decoded = tokenizer.decode(ids, skip_special);
  FUZZ_EXPECT(utf8::first_invalid(decoded) == std::string::npos);
  StreamDecoder stream(tokenizer, skip_special);
  std::string streamed;
  for (int64_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (streamed != decoded) {
    std::fprintf(stderr, "ids:");
    for (int64_t id : ids) std::fprintf(stderr, " %lld", static_cast<long long>(id));
    std::fprintf(stderr, "\ndecode:   [%s]\nstreamed: [%s]\n", decoded.c_str(), streamed.c_str());
  }
  FUZZ_EXPECT(streamed == decoded);
  return 0;
}
