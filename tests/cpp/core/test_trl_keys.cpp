// A TRL user's config keys (train/options.h, bind_trl_names): honoured under our names, or accepted with a note on
// stderr, or refused with a clear error; a YAML file written the way TRL's documentation writes one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../error_of.h"
#include "../temp_dir.h"
#include "common/options.h"
#include "data/dataset_name.h"
#include "infer/batch.h"
#include "train/options.h"
#include "train/ppo.h"

namespace rlhf {
namespace {

struct Bound {
  TrainingOptions train;
  std::string dataset;
  Options options;
  Bound() {
    bind_training_options(options, train);
    options.add("dataset", &dataset, "training JSONL");
  }
};

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

TEST(TrlKeys, AConfigWrittenForTrlLoads) {
  TempDir dir("trl", "config");
  const std::string data = write_file(dir, "data.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n");
  const std::string config = write_file(dir, "sft.yaml", "dataset_name: " + data + "\nlearning_rate: 2.0e-4\nbf16: true\n"
                                                    "report_to: [tensorboard]\npush_to_hub: false\nrun_name: x\n");
  Bound b;
  testing::internal::CaptureStderr();
  b.options.load_yaml(config);
  const std::string notes = testing::internal::GetCapturedStderr();
  EXPECT_EQ(b.train.dataset_name, data);
  const DatasetFiles files = resolve_trl_options(b.train, b.dataset, nullptr, "sft");  // resolved when the stage starts
  EXPECT_EQ(b.dataset, data);
  EXPECT_EQ(files.train, std::vector<std::string>{data});
  EXPECT_EQ(b.train.dtype, "bfloat16");
  EXPECT_DOUBLE_EQ(b.train.learning_rate, 2e-4);
  // One line per ignored key, naming the file and line.
  EXPECT_NE(notes.find(config + ":4: ignoring 'report_to'"), std::string::npos) << notes;
  EXPECT_NE(notes.find(config + ":5: ignoring 'push_to_hub': nothing is uploaded"), std::string::npos) << notes;
  EXPECT_NE(notes.find(config + ":6: ignoring 'run_name'"), std::string::npos) << notes;
}

TEST(TrlKeys, WhatCannotBeHonouredIsAClearError) {
  Bound b;
  b.options.set("dataset_name", "trl-lib/Capybara");
  EXPECT_NE(error_of([&] { resolve_trl_options(b.train, b.dataset, nullptr, "sft"); })
                .find("dataset_name 'trl-lib/Capybara': expected a local JSONL or Arrow file, or a folder of them "
                      "(nothing is downloaded: rlhf makes no network calls), found no such file or folder here"),
            std::string::npos);
  EXPECT_NE(error_of([&] { b.options.set("report_to", "wandb"); }).find("wandb sync --sync-tensorboard"), std::string::npos);
  // bf16 false and torch_dtype auto leave the dtype alone; an unknown key stays an error naming the closest.
  b.train.dtype = "float32";
  b.options.set("bf16", "false");
  b.options.set("torch_dtype", "auto");
  EXPECT_EQ(b.train.dtype, "float32");
  b.options.set("dtype", "auto");  // ModelConfig's newer name: auto trains in float32
  std::string no_dataset;
  b.train.dataset_name.clear();
  resolve_trl_options(b.train, no_dataset, nullptr, "sft");
  EXPECT_EQ(b.train.dtype, "float32");
  EXPECT_NE(error_of([&] { b.options.set("learnin_rate", "1"); }).find("did you mean 'learning_rate'"), std::string::npos);
}

// --dataset naming a folder resolves as dataset_name does; --eval_dataset naming one gives its test split; a file is
// itself. (The folder layouts themselves: tests/cpp/base/test_dataset_name.cpp.)
TEST(TrlKeys, DatasetAndEvalDatasetFolders) {
  TempDir dir("trl", "folders");
  const std::string row = "{\"prompt\": \"a\", \"completion\": \"b\"}\n";
  std::filesystem::create_directories(dir / "data");
  write_file(dir, "data/train-00000-of-00002.jsonl", row);
  write_file(dir, "data/train-00001-of-00002.jsonl", row);
  write_file(dir, "data/test.jsonl", row);
  write_file(dir, "held_out.jsonl", row);
  Bound b;
  std::string eval_dataset;
  b.dataset = dir / "data";
  DatasetFiles files = resolve_trl_options(b.train, b.dataset, &eval_dataset, "sft");
  EXPECT_EQ(files.train, (std::vector<std::string>{dir / "data/train-00000-of-00002.jsonl",
                                                   dir / "data/train-00001-of-00002.jsonl"}));
  EXPECT_EQ(files.test, std::vector<std::string>{dir / "data/test.jsonl"});
  EXPECT_EQ(eval_dataset, dir / "data/test.jsonl");  // named for messages, and evaluation is on
  eval_dataset = dir / "data";
  b.train.dataset_test_split = "train";
  files = resolve_trl_options(b.train, b.dataset, &eval_dataset, "sft");
  EXPECT_EQ(files.test.size(), 2u);
  eval_dataset = dir / "held_out.jsonl";
  files = resolve_trl_options(b.train, b.dataset, &eval_dataset, "sft");
  EXPECT_EQ(files.test, std::vector<std::string>{dir / "held_out.jsonl"});
  std::string file = dir / "missing.jsonl";  // a file is itself: its reader reports it missing
  files = resolve_trl_options(b.train, file, nullptr, "sft");
  EXPECT_EQ(files.train, std::vector<std::string>{dir / "missing.jsonl"});
  EXPECT_TRUE(files.test.empty());
}

// SFT packing: the examples end to end in windows, every token keeping its loss mask (prompt 0, completion 1).
TEST(TrlKeys, PackingKeepsEachTokensLossMask) {
  std::vector<Sequence> examples = {{{1, 2, 3, 4}, 2}, {{5, 6, 7}, 1}, {{8, 9, 10, 11, 12}, 0}};
  const auto windows = pack_sequences(examples, 5);
  ASSERT_EQ(windows.size(), 3u);  // 12 tokens: 5 + 5 + 2
  EXPECT_EQ(windows[0].ids, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(windows[0].loss_mask, (std::vector<uint8_t>{0, 0, 1, 1, 0}));
  EXPECT_EQ(windows[1].ids, (std::vector<int64_t>{6, 7, 8, 9, 10}));
  EXPECT_EQ(windows[1].loss_mask, (std::vector<uint8_t>{1, 1, 1, 1, 1}));
  EXPECT_EQ(windows[2].ids, (std::vector<int64_t>{11, 12}));
  auto batch = pad_right({&windows[0], &windows[2]}, 0, torch::kCPU);
  EXPECT_TRUE(torch::equal(batch.loss_mask, torch::tensor({{0, 0, 1, 1, 0}, {1, 1, 0, 0, 0}}, torch::kLong)));
}

// PPO's batch sizes as TRL's PPOConfig relates them.
TEST(TrlKeys, PpoBatchSizesFollowTrl) {
  PpoOptions o;
  o.num_mini_batches = 2;
  o.train.per_device_train_batch_size = 4;
  o.train.gradient_accumulation_steps = 3;
  EXPECT_EQ(resolve_ppo_batch_sizes(o).rollout_batch_size, 24);  // 4 x 3 x 2
  PpoOptions alone;  // rollout_batch_size alone (or nothing) decides as before
  alone.rollout_batch_size = 32, alone.num_mini_batches = 4;
  const PpoOptions resolved = resolve_ppo_batch_sizes(alone);
  EXPECT_EQ(resolved.rollout_batch_size, 32);
  EXPECT_EQ(resolved.train.per_device_train_batch_size, 8);
  EXPECT_EQ(resolve_ppo_batch_sizes(PpoOptions{}).rollout_batch_size, 64);
  o.rollout_batch_size = 16;  // disagreeing with 4 x 3 x 2
  EXPECT_NE(error_of([&] { resolve_ppo_batch_sizes(o); }).find("give one or the other"), std::string::npos);
}

}  // namespace
}  // namespace rlhf
