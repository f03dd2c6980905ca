// dataset_name's folders (data/dataset_name.h): the files of each split, in the order they are read, for a folder of
// JSONL splits (one file, shards, a SPLIT/ folder) and for `datasets`' save_to_disk layout (DatasetDict, Dataset).
// The files' contents are not read here (tests/cpp/base/test_arrow_stream.cpp, tests/python/test_arrow_datasets.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/dataset_name.h"
#include "../error_of.h"
#include "../temp_dir.h"

namespace rlhf {
namespace {

using Files = std::vector<std::string>;

std::string touch(const TempDir& dir, const std::string& name, const std::string& text = "{}\n") {
  std::filesystem::create_directories(std::filesystem::path(dir / name).parent_path());
  std::ofstream(dir / name) << text;
  return dir / name;
}

// A folder as Dataset.save_to_disk writes one Dataset: state.json listing its shards, the shards, dataset_info.json.
void saved_dataset(const TempDir& dir, const std::string& folder, int shards) {
  std::string list;
  for (int i = 0; i < shards; ++i) {
    const std::string name = "data-0000" + std::to_string(i) + "-of-0000" + std::to_string(shards) + ".arrow";
    touch(dir, folder + "/" + name, "");
    list += std::string(i ? ", " : "") + "{\"filename\": \"" + name + "\"}";
  }
  touch(dir, folder + "/state.json", "{\"_data_files\": [" + list + "], \"_fingerprint\": \"x\", \"_split\": null}");
  touch(dir, folder + "/dataset_info.json", "{}");
}

// A folder of splits as Dataset.to_json leaves it: dataset_train_split picks the training file, the test split is
// found when there is one.
TEST(DatasetName, JsonlSplits) {
  TempDir dir("DatasetName", "splits");
  touch(dir, "data/train.jsonl");
  touch(dir, "data/test.jsonl");
  touch(dir, "data/descriptiveness.jsonl");
  auto files = resolve_dataset_name(dir / "data", "train", "test");
  EXPECT_EQ(files.train, Files{dir / "data/train.jsonl"});
  EXPECT_EQ(files.test, Files{dir / "data/test.jsonl"});
  files = resolve_dataset_name(dir / "data", "descriptiveness", "validation");
  EXPECT_EQ(files.train, Files{dir / "data/descriptiveness.jsonl"});
  EXPECT_TRUE(files.test.empty());
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "data", "validation", "test"); })
                .find("expected a file for the train split 'validation'"),
            std::string::npos);
  // A lone file with no split name is the training split; a file is itself.
  touch(dir, "lone/anything.jsonl.gz");
  EXPECT_EQ(resolve_dataset_name(dir / "lone", "train", "test").train, Files{dir / "lone/anything.jsonl.gz"});
  EXPECT_EQ(resolve_dataset_name(dir / "data/test.jsonl", "train", "test").train, Files{dir / "data/test.jsonl"});
  EXPECT_NE(error_of([&] { resolve_dataset_name("trl-lib/Capybara", "train", "test"); }).find("nothing is downloaded"),
            std::string::npos);
}

// The Hub's shard names: all N shards, in index order; a missing or repeated shard is an error, as is a split that
// has both a whole file and shards.
TEST(DatasetName, JsonlShardsAreReadInOrder) {
  TempDir dir("DatasetName", "shards");
  touch(dir, "data/train-00002-of-00003.jsonl");
  touch(dir, "data/train-00000-of-00003.jsonl.gz");
  touch(dir, "data/train-00001-of-00003.json");
  touch(dir, "data/test-00000-of-00001.jsonl");
  const auto files = resolve_dataset_name(dir / "data", "train", "test");
  EXPECT_EQ(files.train, (Files{dir / "data/train-00000-of-00003.jsonl.gz", dir / "data/train-00001-of-00003.json",
                                dir / "data/train-00002-of-00003.jsonl"}));
  EXPECT_EQ(files.test, Files{dir / "data/test-00000-of-00001.jsonl"});
  touch(dir, "gap/train-00000-of-00003.jsonl");
  touch(dir, "gap/train-00002-of-00003.jsonl");
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "gap", "train", "test"); })
                .find("train-00000-of-00003.jsonl, train-00002-of-00003.jsonl (a shard is missing"),
            std::string::npos);
  touch(dir, "twice/train-00000-of-00001.jsonl");
  touch(dir, "twice/train-00000-of-00001.jsonl.gz");
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "twice", "train", "test"); }).find("a shard is missing, repeated"),
            std::string::npos);
  touch(dir, "both/train.jsonl");
  touch(dir, "both/train-00000-of-00001.jsonl");
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "both", "train", "test"); })
                .find("expected one file for split 'train' (train.jsonl) or its shards"),
            std::string::npos);
  // SPLIT/ holding the split's files: all of them, in name order.
  touch(dir, "sub/train/part-b.jsonl");
  touch(dir, "sub/train/part-a.jsonl");
  EXPECT_EQ(resolve_dataset_name(dir / "sub", "train", "test").train,
            (Files{dir / "sub/train/part-a.jsonl", dir / "sub/train/part-b.jsonl"}));
}

TEST(DatasetName, SaveToDiskLayouts) {
  TempDir dir("DatasetName", "saved");
  // DatasetDict.save_to_disk: dataset_dict.json names the splits, each a Dataset folder.
  touch(dir, "dict/dataset_dict.json", "{\"splits\": [\"train_sft\", \"test_sft\"]}");
  saved_dataset(dir, "dict/train_sft", 3);
  saved_dataset(dir, "dict/test_sft", 1);
  auto files = resolve_dataset_name(dir / "dict", "train_sft", "test_sft");
  EXPECT_EQ(files.train, (Files{dir / "dict/train_sft/data-00000-of-00003.arrow",
                                dir / "dict/train_sft/data-00001-of-00003.arrow",
                                dir / "dict/train_sft/data-00002-of-00003.arrow"}));
  EXPECT_EQ(files.test, Files{dir / "dict/test_sft/data-00000-of-00001.arrow"});
  EXPECT_TRUE(resolve_dataset_name(dir / "dict", "train_sft", "test").test.empty());
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "dict", "train", "test"); })
                .find("expected a split 'train' in its dataset_dict.json, found splits train_sft, test_sft (set "
                      "dataset_train_split)"),
            std::string::npos);
  EXPECT_EQ(split_files(dir / "dict", "test_sft"), files.test);
  // Dataset.save_to_disk: the whole Dataset is the training split; state.json's order is the order read.
  saved_dataset(dir, "one", 2);
  files = resolve_dataset_name(dir / "one", "train", "test");
  EXPECT_EQ(files.train, (Files{dir / "one/data-00000-of-00002.arrow", dir / "one/data-00001-of-00002.arrow"}));
  EXPECT_TRUE(files.test.empty());
  EXPECT_EQ(split_files(dir / "one", "test"), files.train);
  // A Dataset folder as a split's folder without dataset_dict.json (each split saved by itself).
  saved_dataset(dir, "splits/train", 1);
  EXPECT_EQ(resolve_dataset_name(dir / "splits", "train", "test").train,
            Files{dir / "splits/train/data-00000-of-00001.arrow"});
  // state.json that lists a missing file, or a name outside the folder, is a clear error naming state.json.
  touch(dir, "broken/state.json", "{\"_data_files\": [{\"filename\": \"data-00000-of-00001.arrow\"}]}");
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "broken", "train", "test"); })
                .find(dir / "broken/state.json: expected the files it lists, found data-00000-of-00001.arrow, which is "
                            "not in the folder"),
            std::string::npos);
  touch(dir, "outside/state.json", "{\"_data_files\": [{\"filename\": \"../one/data-00000-of-00002.arrow\"}]}");
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "outside", "train", "test"); }).find("expected file names inside"),
            std::string::npos);
  touch(dir, "empty/state.json", "{\"_fingerprint\": \"x\"}");
  EXPECT_NE(error_of([&] { resolve_dataset_name(dir / "empty", "train", "test"); }).find("\"_data_files\""),
            std::string::npos);
}

}  // namespace
}  // namespace rlhf
