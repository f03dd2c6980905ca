// A model on token ids, for every caller (training, evaluation, the pipeline, the CLI): sequences padded into batches
// (right-padded for training and scoring, left-padded for generation), batched generation, and the reward read-out
// at the last real token.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "data/formats.h"
#include "model/generate.h"
#include "model/transformer.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace rlhf {

// One training sequence: prompt ids then response ids; the loss (SFT) or the reward read-out (RM) is on the response.
struct Sequence {
  std::vector<int64_t> ids;
  int64_t prompt_length = 0;  // ids[0, prompt_length) are the prompt; 0 = the whole text is trained on (pretraining)
  // When not empty (packed examples): 1 for each token whose log-likelihood is trained, in place of prompt_length.
  std::vector<uint8_t> loss_mask;
  // When not empty (examples packed apart, `PackingStrategy::kBfd`): each token's position within its own example, 0
  // where an example starts. A token attends only to the tokens of its own example, and RoPE counts from its start,
  // so a packed example computes what it would alone (HF's position_ids of padding-free packing).
  std::vector<int64_t> positions;
};

// How examples share a window. kWrapped: end to end, cut every `window` tokens (an example may be split across two
// windows), attention causal over the whole window, so an example also sees the ones before it (TRL's "wrapped").
// kBfd: whole examples, best-fit decreasing into windows of at most `window` tokens, each attending only to itself
// (TRL's "bfd" with padding-free attention); an example longer than a window becomes window-long pieces, each its
// own example, so no token is lost.
enum class PackingStrategy { kWrapped, kBfd };
PackingStrategy parse_packing_strategy(const std::string& name, const std::string& where = "packing_strategy");

// Texts, each followed by EOS (when the tokenizer has one), packed into windows of `window` tokens by `strategy`
// (pretraining, ptx: no padding wasted); apart, each text also starts after an EOS. Wrapped, the last, shorter
// window is kept when `keep_last` and it holds 2 tokens or more.
std::vector<Sequence> pack_texts(const std::vector<std::string>& texts, const Tokenizer& tokenizer, size_t window,
                                 bool add_bos, bool keep_last, PackingStrategy strategy = PackingStrategy::kWrapped);

// SFT's packing (TRL's packing: true): examples into windows of `window` tokens by `strategy`, each token keeping its
// own loss mask.
std::vector<Sequence> pack_sequences(const std::vector<Sequence>& examples, size_t window,
                                     PackingStrategy strategy = PackingStrategy::kWrapped);

// Prompt + response as one sequence of at most max_length tokens: a response of max_length tokens or more loses its
// end, then `policy` fits the prompt (cut from the left, or the example dropped: `*kept` false); `counts` tallies it.
Sequence fit_to_length(PromptTokens tokens, size_t max_length, TruncationPolicy policy, TruncationCounts& counts,
                       bool* kept);

struct PaddedBatch {
  torch::Tensor ids;        // [B, T], right-padded
  torch::Tensor attention;  // [B, T] 1 = real token
  torch::Tensor loss_mask;  // [B, T] 1 = a token whose log-likelihood is trained (response, or all text)
  torch::Tensor positions;  // [B, T] each token's position in its example (Sequence::positions); undefined: 0..T-1
};

// At least `min_length` columns (a log-prob read-out wants 2).
PaddedBatch pad_right(const std::vector<const Sequence*>& sequences, int64_t pad_id, torch::Device device,
                      int64_t min_length = 1);
// The id written after a sequence's end in training and scoring batches: the tokenizer's pad, else its EOS, else 0.
int64_t pad_id_of(const Tokenizer& tokenizer);

// Prompts left-padded to the longest (at least 1 column), so that generation continues every row at the same column.
// ids [B, P] (pad_id before a row's tokens), mask [B, P] (0 before them), on the CPU.
struct LeftPadded {
  torch::Tensor ids, mask;
};
LeftPadded left_pad(const std::vector<const std::vector<int64_t>*>& rows, int64_t pad_id);

struct GenerationStats {
  int64_t tokens_generated = 0;  // response tokens (up to and including EOS)
  int64_t tokens_prompted = 0;   // prompt tokens run through the model
  int64_t batch_positions = 0;   // generated positions of every batch row, finished rows' padding included
  double seconds = 0;            // in generate() and fetching its tokens, batch by batch
};

// One response per row of prompt ids, `batch_size` rows at a time (left-padded): the generated ids up to and including
// the row's EOS or stop id, and their log-probs. With `by_length` the rows are batched in order of length (less
// padding; a stable sort, so rows of one prompt stay in order); the results are in the rows' order either way.
struct GeneratedRows {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<float>> logprobs;
};
GeneratedRows generate_rows(TransformerImpl& model, const std::vector<std::vector<int64_t>>& rows,
                            const GenerationOptions& options, int64_t batch_size, at::Generator generator, bool by_length,
                            GenerationStats* stats = nullptr);

// Index of the last real token of each row: mask [B, T] -> [B].
torch::Tensor last_token_index(const torch::Tensor& mask);

// Scalar-head output at each row's last real token (the reward of a reward model). ids, mask [B, T] -> [B].
torch::Tensor score_at_last_token(TransformerImpl& model, const torch::Tensor& ids, const torch::Tensor& mask);

}  // namespace rlhf
