// infer/: prompts left-padded for generation, and generate_rows, the one batched generation loop behind rlhf generate,
// the evaluation and the pipeline, returning each row's tokens in the rows' order whatever order it batches them in.
// The SFT/RM step loop's schedule (train/loop.h) is checked here too, against counts done by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "infer/batch.h"
#include "model/generate.h"
#include "model/transformer.h"
#include "train/loop.h"

namespace rlhf {
namespace {

TEST(LeftPad, PutsEachRowAtTheEndWithItsMask) {
  const std::vector<int64_t> a = {1, 2, 3}, b = {4}, empty = {};
  const LeftPadded padded = left_pad({&a, &b, &empty}, 9);
  EXPECT_TRUE(padded.ids.equal(torch::tensor({1, 2, 3, 9, 9, 4, 9, 9, 9}, torch::kLong).view({3, 3})));
  EXPECT_TRUE(padded.mask.equal(torch::tensor({1, 1, 1, 0, 0, 1, 0, 0, 0}, torch::kLong).view({3, 3})));
  // Rows with no tokens at all still make a batch generation can continue: one column of padding.
  EXPECT_EQ(left_pad({&empty}, 0).ids.sizes(), (std::vector<int64_t>{1, 1}));
}

TEST(GenerateRows, ReturnsEachRowsTokensInTheRowsOrder) {
  torch::manual_seed(3);
  Transformer model(tiny_config("llama", 61, 32, 2, 4, 2, 64));
  init_weights(*model, 0.5);  // large weights: rows of different prompts continue differently
  model->eval();
  const std::vector<std::vector<int64_t>> rows = {{5, 6, 7, 8, 9}, {11}, {20, 21, 22}, {30, 31}};
  GenerationOptions o;
  o.max_new_tokens = 6;
  o.do_sample = false;
  o.eos_token_id = 60;
  // One row per batch: each row's tokens are what generate() gives that row alone, in either batching order.
  GenerationStats as_given, by_length;
  const auto given = generate_rows(*model, rows, o, 1, at::make_generator<at::CPUGeneratorImpl>(1), false, &as_given);
  const auto sorted = generate_rows(*model, rows, o, 1, at::make_generator<at::CPUGeneratorImpl>(1), true, &by_length);
  int64_t tokens = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto ids = torch::tensor(rows[i], torch::kLong).unsqueeze(0);
    auto alone = generate(*model, ids, torch::ones_like(ids), o, at::make_generator<at::CPUGeneratorImpl>(1));
    const int64_t n = alone.response_mask.sum().item<int64_t>();
    const auto expected = alone.response_ids[0].slice(0, 0, n);
    EXPECT_EQ(given.ids[i], std::vector<int64_t>(expected.data_ptr<int64_t>(), expected.data_ptr<int64_t>() + n)) << i;
    EXPECT_EQ(sorted.ids[i], given.ids[i]) << i;
    EXPECT_EQ(given.logprobs[i].size(), static_cast<size_t>(n));
    tokens += n;
  }
  EXPECT_NE(given.ids[0], given.ids[1]);  // the check above could not pass by returning one row everywhere
  EXPECT_EQ(as_given.tokens_generated, tokens);
  EXPECT_EQ(by_length.tokens_prompted, 11);
  EXPECT_GE(as_given.batch_positions, tokens);  // finished rows pad the rest of their batch
}

TEST(EpochSchedule, CountsStepsAsOneProcessWithTheGlobalBatch) {
  TrainingOptions t;
  t.per_device_train_batch_size = 4, t.gradient_accumulation_steps = 3, t.num_train_epochs = 2;
  // 50 examples, 2 ranks: 7 global micro-batches of 8 per epoch, 2 whole steps of 3 (the last micro-batch is dropped).
  EpochSchedule s = epoch_schedule(t, 50, 2);
  EXPECT_EQ(s.steps_per_epoch, 2);
  EXPECT_EQ(s.total_steps, 4);
  EXPECT_EQ(s.epochs, 2);
  t.max_steps = 5;  // overrides the epochs: the third epoch is entered and cut
  s = epoch_schedule(t, 50, 2);
  EXPECT_EQ(s.total_steps, 5);
  EXPECT_EQ(s.epochs, 3);
  t.max_steps = -1, t.gradient_accumulation_steps = 10;  // fewer micro-batches than one step: still one step an epoch
  EXPECT_EQ(epoch_schedule(t, 50, 2).steps_per_epoch, 1);
}

}  // namespace
}  // namespace rlhf
