// One encoding of prompts for every stage (issue 26, bug 4): a SentencePiece model with a BOS (Llama-2 / Mistral style)
// was trained by SFT with the BOS before each prompt, so the reward model's training, normalisation and scoring, PPO's
// prompts and the pipeline's sampling must give it one too. Each is compared with the same computation on ids written
// here by hand (BOS + prompt text + response text + EOS).
#include <gtest/gtest.h>
#include <sentencepiece_trainer.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "../temp_dir.h"
#include "tiny_policy.h"
#include "common/files.h"
#include "infer/scoring.h"
#include "infer/text.h"
#include "io/model_dir.h"
#include "model/generate.h"
#include "tokenizer/prompt_format.h"
#include "train/ppo.h"
#include "train/reward.h"

namespace rlhf {
namespace {

namespace fs = std::filesystem;

// The scalar head at the last token of one unpadded sequence.
double last_score(TransformerImpl& reward_model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  auto hidden = reward_model.hidden_states(input, torch::arange(input.size(1), torch::kLong).unsqueeze(0), {});
  return reward_model.scores(hidden)[0][-1].item<double>();
}

// A Llama-2-style SentencePiece model (bos 1, eos 2, unk 0), trained once.
std::string sentencepiece_model(const TempDir& dir) {
  std::string corpus;
  const char* sentences[] = {"The quick brown fox jumps over the lazy dog.", "A stitch in time saves nine.",
                             "Hello world, hello tokenizer!", "Instruction: Response: what is it?",
                             "She sells sea shells by the sea shore."};
  for (int i = 0; i < 200; ++i) corpus += std::string(sentences[i % 5]) + "\n";
  std::ofstream(dir / "corpus.txt") << corpus;
  auto status = sentencepiece::SentencePieceTrainer::Train(
      {{"input", dir / "corpus.txt"}, {"model_prefix", dir / "tokenizer"}, {"vocab_size", "300"},
       {"model_type", "bpe"}, {"byte_fallback", "true"}, {"character_coverage", "1.0"}, {"minloglevel", "2"},
       {"bos_id", "1"}, {"eos_id", "2"}, {"unk_id", "0"}, {"num_threads", "1"}});
  EXPECT_TRUE(status.ok()) << status.ToString();
  return dir / "tokenizer.model";
}

TEST(PromptEncoding, SentencePiecePromptsGetTheirBosInEveryStage) {
  torch::set_num_threads(1);  // tiny models (see test_stages.cpp)
  TempDir dir("encoding", "bos");
  auto tokenizer = load_tokenizer(sentencepiece_model(dir));
  ASSERT_EQ(tokenizer->bos_id(), 1);
  ASSERT_EQ(tokenizer->eos_id(), 2);
  const auto format = PromptFormat::plain();
  const std::vector<std::string> prompts = {"The quick brown fox", "Hello world"}, responses = {"jumps.", "hello!"};
  auto policy = tiny_policy(33, tokenizer->vocab_size(), 0.3, "llama");
  auto reward_model = copy_with_heads(*policy, false, true);
  auto by_hand = [&](const std::string& prompt, bool bos) {
    std::vector<int64_t> ids = tokenizer->encode(format.prompt_text(prompt));
    if (bos) ids.insert(ids.begin(), 1);
    return ids;
  };

  // The reward model's scores (RM training, its normalisation, evaluation): BOS + prompt + response + EOS.
  auto scores = score_texts(*reward_model, *tokenizer, format, prompts, responses, 0.0, 8, 64);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> with, without;
    for (bool bos : {true, false}) {
      auto& ids = bos ? with : without;
      ids = by_hand(prompts[i], bos);
      for (auto id : tokenizer->encode(format.response_text(responses[i]))) ids.push_back(id);
      ids.push_back(2);
    }
    const double want = last_score(*reward_model, with), other = last_score(*reward_model, without);
    EXPECT_NEAR(scores[i], want, 1e-5) << prompts[i];
    EXPECT_GT(std::abs(want - other), 1e-4);  // BOS changes the score
  }

  // The pipeline's sampling: greedy responses equal greedy generation from BOS + prompt.
  GenerationOptions g;
  g.max_new_tokens = 6, g.do_sample = false, g.eos_token_id = 2, g.pad_token_id = 2;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  auto sampled = sample_responses(*policy, *tokenizer, format, prompts, g, 8, generator);
  int64_t changed = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<std::string> texts;
    for (bool bos : {true, false}) {
      auto ids = torch::tensor(by_hand(prompts[i], bos), torch::kLong).unsqueeze(0);
      auto out = generate(*policy, ids, torch::ones_like(ids), g, generator);
      auto response = out.response_ids[0];
      std::vector<int64_t> tokens(response.data_ptr<int64_t>(), response.data_ptr<int64_t>() + response.size(0));
      while (!tokens.empty() && tokens.back() == 2) tokens.pop_back();
      std::string text = tokenizer->decode(tokens, true);
      texts.push_back(text.substr(std::min(text.size(), text.find_first_not_of(' '))));
    }
    EXPECT_EQ(sampled.responses[i], texts[0]) << prompts[i];
    changed += texts[0] != texts[1];
  }
  EXPECT_GT(changed, 0);  // BOS changes a greedy response here

  // PPO's prompts (run_ppo, --save_rollouts): every row's first real token is BOS.
  const std::string sft = dir / "sft", rm = dir / "rm";
  save_model(*policy, sft);
  fs::copy_file(dir / "tokenizer.model", sft + "/tokenizer.model");
  save_model(*reward_model, rm);
  {
    std::ofstream f(dir / "prompts.jsonl");
    for (const auto& p : prompts) f << R"({"prompt": ")" << p << "\"}\n";
  }
  PpoOptions o;
  o.train.output_dir = dir / "ppo";
  o.train.device = "cpu";
  o.train.max_length = 64;
  o.sft_model_path = sft, o.reward_model_path = rm, o.dataset = dir / "prompts.jsonl";
  o.rollout_batch_size = 4, o.num_mini_batches = 2, o.total_episodes = 4, o.response_length = 8;
  o.save_rollouts = true, o.quiet = true;
  run_ppo(o);
  auto rollout = read_tensors(dir / "ppo/rollouts/iteration-1.safetensors");
  const auto ids = rollout.at("ids"), mask = rollout.at("mask");
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const int64_t first_real = mask[b].argmax().item<int64_t>();
    EXPECT_EQ(ids[b][first_real].item<int64_t>(), 1) << "row " << b;
  }
}

}  // namespace
}  // namespace rlhf
