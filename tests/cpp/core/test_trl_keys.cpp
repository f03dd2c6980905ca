// A TRL user's config keys (train/options.h, bind_trl_names): honoured under our names, or accepted with a note on
// stderr, or refused with a clear error; a YAML file written the way TRL's documentation writes one.
#include <gtest/gtest.h>

#include <fstream>

#include "../error_of.h"
#include "../temp_dir.h"
#include "common/options.h"
#include "train/options.h"

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
  EXPECT_EQ(b.dataset, data);
  EXPECT_EQ(b.train.dtype, "bfloat16");
  EXPECT_DOUBLE_EQ(b.train.learning_rate, 2e-4);
  // One line per ignored key, naming the file and line.
  EXPECT_NE(notes.find(config + ":4: ignoring 'report_to'"), std::string::npos) << notes;
  EXPECT_NE(notes.find(config + ":5: ignoring 'push_to_hub': nothing is uploaded"), std::string::npos) << notes;
  EXPECT_NE(notes.find(config + ":6: ignoring 'run_name'"), std::string::npos) << notes;
}

TEST(TrlKeys, WhatCannotBeHonouredIsAClearError) {
  Bound b;
  EXPECT_EQ(error_of([&] { b.options.set("dataset_name", "trl-lib/Capybara"); }),
            "command line: expected a local JSONL file for 'dataset_name' (nothing is downloaded: rlhf makes no network "
            "calls), found 'trl-lib/Capybara', which is no file here");
  EXPECT_NE(error_of([&] { b.options.set("report_to", "wandb"); }).find("wandb sync --sync-tensorboard"), std::string::npos);
  // bf16 false and torch_dtype auto leave the dtype alone; an unknown key stays an error naming the closest.
  b.train.dtype = "float32";
  b.options.set("bf16", "false");
  b.options.set("torch_dtype", "auto");
  EXPECT_EQ(b.train.dtype, "float32");
  EXPECT_NE(error_of([&] { b.options.set("learnin_rate", "1"); }).find("did you mean 'learning_rate'"), std::string::npos);
}

}  // namespace
}  // namespace rlhf
