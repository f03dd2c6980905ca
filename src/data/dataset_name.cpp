#include "data/dataset_name.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "common/error.h"

namespace rlhf {

namespace fs = std::filesystem;

namespace {

bool is_jsonl(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".jsonl") || ends_with(".jsonl.gz") || ends_with(".json") || ends_with(".json.gz");
}

std::vector<std::string> files_in(const fs::path& folder, bool (*keep)(const std::string&)) {
  std::vector<std::string> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error))
    if (entry.is_regular_file(error) && keep(entry.path().filename().string())) out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// save_to_disk writes dataset_dict.json (a DatasetDict) or state.json + dataset_info.json + data-*.arrow (a Dataset).
bool is_arrow_layout(const fs::path& folder) {
  std::error_code error;
  if (fs::exists(folder / "dataset_dict.json", error) || fs::exists(folder / "state.json", error)) return true;
  return !files_in(folder, [](const std::string& n) { return n.size() > 6 && n.substr(n.size() - 6) == ".arrow"; }).empty();
}

// The one JSONL file of `split` in `folder`: SPLIT.jsonl (or .jsonl.gz, .json, or a single SPLIT-*.jsonl), else the
// single such file in SPLIT/.
// "" when there is none; an error when there are several (shards: concatenate them).
std::string split_file(const fs::path& folder, const std::string& split) {
  std::vector<std::string> found;
  for (const auto& path : files_in(folder, is_jsonl)) {
    const std::string name = fs::path(path).filename().string();
    // SPLIT.jsonl, or a shard of it (SPLIT-00000-of-00002.jsonl, the Hub's naming)
    if (name.rfind(split + ".", 0) == 0 || name.rfind(split + "-", 0) == 0) found.push_back(path);
  }
  std::error_code error;
  if (found.empty() && fs::is_directory(folder / split, error)) found = files_in(folder / split, is_jsonl);
  if (found.size() > 1) {
    std::string names;
    for (const auto& f : found) names += (names.empty() ? "" : ", ") + fs::path(f).filename().string();
    fail(folder.string(), "one JSONL file for split '" + split + "' (concatenate shards into " + split + ".jsonl)",
         names);
  }
  return found.empty() ? "" : found[0];
}

}  // namespace

DatasetFiles resolve_dataset_name(const std::string& name, const std::string& train_split,
                                  const std::string& test_split) {
  std::error_code error;
  const fs::path path(name);
  if (!fs::exists(path, error)) {
    // "org/name" or "name": a Hub dataset id. rlhf makes no network calls, so nothing is fetched.
    fail("dataset_name '" + name + "'",
         "a local JSONL file or a folder of them (nothing is downloaded: rlhf makes no network calls)",
         "no such file or folder here; for a Hub dataset, save it first: `datasets.load_dataset('" + name +
             "')[split].to_json('" + fs::path(name).filename().string() + "/SPLIT.jsonl')` and pass that folder");
  }
  if (!fs::is_directory(path, error)) return {name, ""};
  if (is_arrow_layout(path))
    fail("dataset_name '" + name + "'", "a folder of JSONL files (SPLIT.jsonl)",
         "a folder in datasets' save_to_disk (Arrow) layout, which rlhf does not read; export each split with "
         "`datasets.load_from_disk('" + name + "')[SPLIT].to_json('" + name + "/SPLIT.jsonl')`");
  DatasetFiles out;
  out.train = split_file(path, train_split);
  if (out.train.empty()) {
    // A folder with a single JSONL file and no split names: that file is the training split.
    const auto all = files_in(path, is_jsonl);
    const bool named_test = !all.empty() && fs::path(all[0]).filename().string().rfind(test_split + ".", 0) == 0;
    if (all.size() == 1 && !named_test) out.train = all[0];
  }
  if (out.train.empty()) {
    std::string names;
    for (const auto& f : files_in(path, is_jsonl)) names += (names.empty() ? "" : ", ") + fs::path(f).filename().string();
    fail("dataset_name '" + name + "'", "a file for the train split '" + train_split + "' (" + train_split + ".jsonl)",
         names.empty() ? "no JSONL file in the folder" : names + " (set dataset_train_split)");
  }
  out.test = split_file(path, test_split);
  return out;
}

}  // namespace rlhf
