// TRL's `dataset_name` on a machine that downloads nothing: a local JSONL file (gzip'ed or not), or a folder holding one
// file per split (SPLIT.jsonl, SPLIT.jsonl.gz, or SPLIT/ with one such file, as `Dataset.to_json` writes them). A folder
// in `datasets`' save_to_disk layout (Arrow files) and a Hub name are clear errors that say what to do instead.
#pragma once
#include <string>

namespace rlhf {

struct DatasetFiles {
  std::string train;  // the file to train on
  std::string test;   // the test split's file, "" when the folder has none (or dataset_name is a file)
};

// `train_split` must exist in a folder; `test_split` may not.
DatasetFiles resolve_dataset_name(const std::string& dataset_name, const std::string& train_split,
                                  const std::string& test_split);

}  // namespace rlhf
