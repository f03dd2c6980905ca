// Training a byte-level BPE tokenizer on a corpus (the demo's from-scratch model trains its own): GPT-2's pre-tokenizer
// regex, a 256-byte base alphabet, then the most frequent adjacent pair merged until the vocabulary is full.
//
// Pair counts are kept incrementally (each merge only revisits the words that contain the merged pair) and the best pair
// comes from a max-heap with lazy invalidation, so a 8k vocabulary on ~5 MB of text takes seconds on one core.
// Ties between equally frequent pairs go to the smaller (left id, right id), as HF's BpeTrainer does.
//
// Ids: the special tokens first (0..k-1, in the order given), then the 256 bytes in byte order, then the merges.
// The result saves as a tokenizer.json (BpeTokenizer::save / save_pretrained) that HF tokenizers loads and encodes
// identically.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/bpe.h"

namespace rlhf {

struct BpeTrainOptions {
  int64_t min_frequency = 2;      // a pair seen fewer times than this is never merged (training may stop early)
  bool add_prefix_space = false;  // ByteLevel's add_prefix_space (GPT-2: false)
  // Which of the special tokens are BOS / EOS / PAD ("" for none).
  std::string bos_token, eos_token, pad_token;
};

// `vocab_size` counts everything: special tokens, the 256 bytes and the merges. Special tokens written in the texts
// are cut out before counting (they are never merged into other tokens).
std::unique_ptr<BpeTokenizer> train_bpe(const std::vector<std::string>& texts, int64_t vocab_size,
                                        const std::vector<std::string>& special_tokens,
                                        const BpeTrainOptions& options = {});

}  // namespace rlhf
