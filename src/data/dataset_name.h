// TRL's `dataset_name` on a machine that downloads nothing (and what a stage's --dataset takes when it names a folder):
// a local file (JSONL, gzip'ed or not, or one Arrow stream), or a folder that is
//   - `datasets`' save_to_disk layout: a DatasetDict (dataset_dict.json and one Dataset folder per split) or a single
//     Dataset (state.json listing its data-0000K-of-0000N.arrow shards; the whole Dataset is the train split);
//   - one file per split, as `Dataset.to_json` and the Hub name them: SPLIT.jsonl (or .jsonl.gz, .json, .arrow), its
//     shards SPLIT-0000K-of-0000N.jsonl (all N, read in order), or a folder SPLIT/ holding the split's files.
// The files resolved here are read by data/dataset_rows.h. A Hub name is a clear error saying that nothing is downloaded.
#pragma once
#include <string>
#include <vector>

namespace rlhf {

struct DatasetFiles {
  std::vector<std::string> train;  // the files to train on, in order (one file, or the shards of the split)
  std::vector<std::string> test;   // the test split's files; empty when the folder has none (or the dataset is a file)
};

// `train_split` must exist in a folder; `test_split` may not.
DatasetFiles resolve_dataset_name(const std::string& dataset_name, const std::string& train_split,
                                  const std::string& test_split);

// The files of `split` for a path that names one split's data (--eval_dataset, --ptx_dataset): anything but a folder is
// itself (its reader reports a missing file); a folder gives that split's files (required), a save_to_disk Dataset
// folder all its shards.
std::vector<std::string> split_files(const std::string& path, const std::string& split);

}  // namespace rlhf
