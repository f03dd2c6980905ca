#include "data/dataset_name.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "data/jsonl.h"

namespace rlhf {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& name, const std::string& suffix) {
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_data_file(const std::string& name) {
  for (const char* suffix : {".jsonl", ".jsonl.gz", ".json", ".json.gz", ".arrow"})
    if (ends_with(name, suffix)) return true;
  return false;
}

std::string name_of(const std::string& path) { return fs::path(path).filename().string(); }

std::vector<std::string> data_files_in(const fs::path& folder) {
  std::vector<std::string> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error))
    if (entry.is_regular_file(error) && is_data_file(entry.path().filename().string()))
      out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string names_of(const std::vector<std::string>& paths) {
  std::string names;
  for (const auto& p : paths) names += (names.empty() ? "" : ", ") + name_of(p);
  return names;
}

bool has_file(const fs::path& folder, const char* name) {
  std::error_code error;
  return fs::is_regular_file(folder / name, error);
}

// A save_to_disk Dataset folder: state.json lists its shards ("_data_files": [{"filename": ...}, ...]) in order.
std::vector<std::string> saved_dataset_files(const fs::path& folder) {
  const std::string state_path = (folder / "state.json").string();
  const auto state = read_json(state_path);
  const std::string expected = "a \"_data_files\" list of {\"filename\": \"data-0000K-of-0000N.arrow\"} (save_to_disk's)";
  if (!state.is_object() || !state.contains("_data_files") || !state["_data_files"].is_array())
    fail(state_path, expected, state.is_object() ? "no such list" : describe_json(state));
  std::vector<std::string> files;
  for (const auto& entry : state["_data_files"]) {
    if (!entry.is_object() || !entry.contains("filename") || !entry["filename"].is_string())
      fail(state_path, expected, "an entry " + json_excerpt(entry));
    const std::string name = entry["filename"].get<std::string>();
    // A name inside the folder: state.json never points elsewhere.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      fail(state_path, "file names inside " + folder.string(), "\"" + name + "\"");
    if (!has_file(folder, name.c_str())) fail(state_path, "the files it lists", name + ", which is not in the folder");
    files.push_back((folder / name).string());
  }
  if (files.empty()) fail(state_path, expected, "an empty list");
  return files;
}

// A save_to_disk DatasetDict folder: dataset_dict.json is {"splits": [...]}, one Dataset folder per split.
std::vector<std::string> saved_splits(const fs::path& folder) {
  const std::string path = (folder / "dataset_dict.json").string();
  const auto dict = read_json(path);
  if (!dict.is_object() || !dict.contains("splits") || !dict["splits"].is_array())
    fail(path, "{\"splits\": [...]} (save_to_disk's dataset_dict.json)", json_excerpt(dict));
  std::vector<std::string> splits;
  for (const auto& split : dict["splits"]) {
    if (!split.is_string()) fail(path, "split names", describe_json(split));
    splits.push_back(split.get<std::string>());
  }
  return splits;
}

bool lists(const std::vector<std::string>& splits, const std::string& split) {
  return std::find(splits.begin(), splits.end(), split) != splits.end();
}

// "train-00001-of-00003.jsonl" after "train-": its index and count, or false when `rest` is not a shard's name.
bool parse_shard(const std::string& rest, long* index, long* count) {
  size_t at = 0;
  auto number = [&](long* out) {
    const size_t start = at;
    while (at < rest.size() && at - start < 9 && std::isdigit(static_cast<unsigned char>(rest[at]))) ++at;
    if (at == start) return false;
    *out = std::stol(rest.substr(start, at - start));
    return true;
  };
  if (!number(index) || rest.compare(at, 4, "-of-") != 0) return false;
  at += 4;
  return number(count) && at < rest.size() && (rest[at] == '.' || rest[at] == '-');
}

// The files of `split` among a folder's files: SPLIT.EXT (or a single SPLIT-NAME.EXT), or all the shards
// SPLIT-0000K-of-0000N.EXT in order; else the files in the folder SPLIT/. Empty when there are none.
std::vector<std::string> split_in_folder(const fs::path& folder, const std::string& split) {
  std::vector<std::string> whole;
  std::vector<std::pair<long, std::string>> shards;
  long count = -1;
  bool counts_agree = true;
  for (const auto& path : data_files_in(folder)) {
    const std::string name = name_of(path);
    long index = 0, of = 0;
    if (name.rfind(split + ".", 0) == 0) {
      whole.push_back(path);
    } else if (name.rfind(split + "-", 0) == 0) {
      if (parse_shard(name.substr(split.size() + 1), &index, &of)) {
        counts_agree = counts_agree && (count < 0 || of == count);
        count = of;
        shards.emplace_back(index, path);
      } else {
        whole.push_back(path);
      }
    }
  }
  const std::string layout = "one file for split '" + split + "' (" + split + ".jsonl) or its shards (" + split +
                             "-00000-of-0000N.jsonl, all N)";
  if (whole.size() + (shards.empty() ? 0 : 1) > 1)
    fail(folder.string(), layout, names_of(whole) + (shards.empty() ? "" : ", and shards"));
  if (!whole.empty()) return whole;
  if (!shards.empty()) {
    std::sort(shards.begin(), shards.end());
    std::vector<std::string> files;
    for (size_t i = 0; i < shards.size(); ++i) {
      if (!counts_agree || shards[i].first != static_cast<long>(i) || static_cast<long>(shards.size()) != count) {
        std::vector<std::string> names;
        for (const auto& s : shards) names.push_back(s.second);
        fail(folder.string(), layout, names_of(names) + " (a shard is missing, repeated or of another count)");
      }
      files.push_back(shards[i].second);
    }
    return files;
  }
  std::error_code error;
  const fs::path sub = folder / split;
  if (!fs::is_directory(sub, error)) return {};
  if (has_file(sub, "state.json")) return saved_dataset_files(sub);
  return data_files_in(sub);  // its shards, in name order
}

}  // namespace

DatasetFiles resolve_dataset_name(const std::string& name, const std::string& train_split,
                                  const std::string& test_split) {
  std::error_code error;
  const fs::path path(name);
  const std::string where = "dataset_name '" + name + "'";
  if (!fs::exists(path, error)) {
    // "org/name" or "name": a Hub dataset id. rlhf makes no network calls, so nothing is fetched.
    fail(where, "a local JSONL or Arrow file, or a folder of them (nothing is downloaded: rlhf makes no network calls)",
         "no such file or folder here; for a Hub dataset, save it first: `datasets.load_dataset('" + name +
             "').save_to_disk('" + fs::path(name).filename().string() + "')` and pass that folder");
  }
  if (!fs::is_directory(path, error)) return {{name}, {}};
  DatasetFiles out;
  if (has_file(path, "dataset_dict.json")) {
    const auto splits = saved_splits(path);
    if (!lists(splits, train_split)) {
      std::string names;
      for (const auto& s : splits) names += (names.empty() ? "" : ", ") + s;
      fail(where, "a split '" + train_split + "' in its dataset_dict.json",
           "splits " + names + " (set dataset_train_split)");
    }
    out.train = saved_dataset_files(path / train_split);
    if (lists(splits, test_split)) out.test = saved_dataset_files(path / test_split);
    return out;
  }
  if (has_file(path, "state.json")) return {saved_dataset_files(path), {}};  // one Dataset: the train split
  out.train = split_in_folder(path, train_split);
  if (out.train.empty()) {
    // A folder with a single data file and no split names: that file is the training split.
    const auto all = data_files_in(path);
    const bool named_test = !all.empty() && name_of(all[0]).rfind(test_split + ".", 0) == 0;
    if (all.size() == 1 && !named_test) out.train = all;
  }
  if (out.train.empty()) {
    const std::string names = names_of(data_files_in(path));
    fail(where,
         "a file for the train split '" + train_split + "' (" + train_split + ".jsonl), or datasets' save_to_disk layout",
         names.empty() ? "no JSONL or Arrow file in the folder" : names + " (set dataset_train_split)");
  }
  out.test = split_in_folder(path, test_split);
  return out;
}

std::vector<std::string> split_files(const std::string& name, const std::string& split) {
  std::error_code error;
  const fs::path path(name);
  if (!fs::is_directory(path, error)) return {name};
  if (has_file(path, "dataset_dict.json")) {
    if (!lists(saved_splits(path), split)) fail(name, "a split '" + split + "' in its dataset_dict.json", "none");
    return saved_dataset_files(path / split);
  }
  if (has_file(path, "state.json")) return saved_dataset_files(path);
  auto files = split_in_folder(path, split);
  if (files.empty()) fail(name, "a file for the split '" + split + "' (" + split + ".jsonl)", "none");
  return files;
}

}  // namespace rlhf
