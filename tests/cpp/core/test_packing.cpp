// Packing examples into windows (infer/batch.h): best-fit decreasing with each example apart (TRL's "bfd" with
// padding-free attention), and what "apart" must mean for a model: a packed example computes what it computes alone.
#include <gtest/gtest.h>

#include <algorithm>

#include "../error_of.h"
#include "infer/batch.h"
#include "model/logprobs.h"
#include "tiny_policy.h"
#include "train/losses.h"

namespace rlhf {
namespace {

Sequence example(std::vector<int64_t> ids, int64_t prompt_length = 0) { return {std::move(ids), prompt_length, {}, {}}; }

std::vector<int64_t> iota_from(int64_t first, int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = first + i;
  return v;
}

TEST(Packing, BestFitDecreasingPlacesLongestFirstIntoTheTightestWindow) {
  // Lengths 4, 3, 5, 2, 6 into windows of 7: 6 opens a window (room 1), 5 another (room 2), 4 a third (room 3); 3 fits
  // the third exactly, 2 the second exactly.
  std::vector<Sequence> examples = {example(iota_from(10, 4), 1), example(iota_from(20, 3), 1),
                                    example(iota_from(30, 5), 1), example(iota_from(40, 2), 1),
                                    example(iota_from(50, 6), 1)};
  const auto windows = pack_sequences(examples, 7, PackingStrategy::kBfd);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[0].ids, iota_from(50, 6));
  EXPECT_EQ(windows[1].ids, (std::vector<int64_t>{30, 31, 32, 33, 34, 40, 41}));
  EXPECT_EQ(windows[1].positions, (std::vector<int64_t>{0, 1, 2, 3, 4, 0, 1}));
  EXPECT_EQ(windows[2].ids, (std::vector<int64_t>{10, 11, 12, 13, 20, 21, 22}));
  EXPECT_EQ(windows[2].positions, (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2}));
  // The prompt token (the first of each) is not trained; nothing in another example may predict a first token.
  EXPECT_EQ(windows[2].loss_mask, (std::vector<uint8_t>{0, 1, 1, 1, 0, 1, 1}));
  // Every token once.
  std::vector<int64_t> all;
  for (const auto& w : windows) all.insert(all.end(), w.ids.begin(), w.ids.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want;
  for (const auto& e : examples) want.insert(want.end(), e.ids.begin(), e.ids.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all, want);
  // Trained on every token (completion_only_loss false), a piece's first token still is not.
  const auto whole = pack_sequences({example({1, 2, 3}), example({4, 5})}, 8, PackingStrategy::kBfd);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].loss_mask, (std::vector<uint8_t>{0, 1, 1, 0, 1}));
}

TEST(Packing, AnExampleLongerThanAWindowBecomesPiecesAndNothingIsLost) {
  const auto windows = pack_sequences({example(iota_from(1, 10))}, 4, PackingStrategy::kBfd);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[0].ids, iota_from(1, 4));
  EXPECT_EQ(windows[1].ids, iota_from(5, 4));
  EXPECT_EQ(windows[2].ids, iota_from(9, 2));
  EXPECT_EQ(windows[2].positions, (std::vector<int64_t>{0, 1}));
  EXPECT_NE(error_of([] { parse_packing_strategy("first_fit"); }).find("bfd or wrapped"), std::string::npos);
}

// The test that makes "apart" mean something: the log-probs of two examples packed in one window (and of a row padded
// beside it) equal those of each example run alone, for Llama (RoPE: positions restart) and GPT-2 (learned positions).
// Without the document mask, or with positions counted over the window, the second example's differ.
TEST(Packing, AnExamplePackedApartComputesWhatItComputesAlone) {
  single_thread();
  for (const std::string family : {"llama", "gpt2"}) {
    Transformer model = tiny_policy(7, 64, 0.2, family);
    model->eval();
    torch::NoGradGuard no_grad;
    const std::vector<int64_t> a = {3, 17, 22, 9, 41}, b = {5, 8, 30, 12};
    const auto windows = pack_sequences({example(a), example(b)}, 16, PackingStrategy::kBfd);
    ASSERT_EQ(windows.size(), 1u) << family;
    const Sequence shorter = example({7, 7, 7});
    auto packed = pad_right({&windows[0], &shorter}, 0, torch::kCPU);
    ASSERT_TRUE(packed.positions.defined());
    auto together = token_logprobs(*model, packed.ids, packed.attention, 1.0, false, packed.positions).logprobs;
    auto alone = [&](const std::vector<int64_t>& ids) {
      auto t = torch::tensor(ids, torch::kLong).unsqueeze(0);
      return token_logprobs(*model, t, torch::ones_like(t)).logprobs[0];
    };
    const int64_t na = static_cast<int64_t>(a.size()), nb = static_cast<int64_t>(b.size());
    EXPECT_TRUE(torch::allclose(together[0].slice(0, 0, na - 1), alone(a), 1e-5, 1e-6)) << family;
    // The first example's last position predicts the second's first token: across examples, not trained, not compared.
    EXPECT_TRUE(torch::allclose(together[0].slice(0, na, na + nb - 1), alone(b), 1e-5, 1e-6)) << family;
    EXPECT_TRUE(torch::allclose(together[1].slice(0, 0, 2), alone({7, 7, 7}), 1e-5, 1e-6)) << family;
    // Wrapped, the second example sees the first: its log-probs change (what the mask above prevents).
    auto wrapped = token_logprobs(*model, packed.ids.slice(0, 0, 1), packed.attention.slice(0, 0, 1)).logprobs[0];
    EXPECT_FALSE(torch::allclose(wrapped.slice(0, na, na + nb - 1), alone(b), 1e-3, 1e-4)) << family;
    // The language-model loss reads the same positions: it trains the tokens the loss mask keeps, apart.
    auto loss = language_model_loss(*model, packed);
    EXPECT_TRUE(std::isfinite(loss.item<double>()));
  }
}

}  // namespace
}  // namespace rlhf
