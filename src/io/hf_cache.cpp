#include "io/hf_cache.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/error.h"
#include "common/files.h"

namespace rlhf {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// "org/name" with the Hub's characters: letters, digits, '-', '_', '.'; neither part empty, "." or "..".
bool looks_like_hub_id(const std::string& path) {
  const size_t slash = path.find('/');
  if (slash == std::string::npos || path.find('/', slash + 1) != std::string::npos) return false;
  const std::string org = path.substr(0, slash), name = path.substr(slash + 1);
  for (const std::string& part : {org, name}) {
    if (part.empty() || part == "." || part == ".." || part.size() > 96) return false;
    if (part.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos)
      return false;
  }
  return true;
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n"), end = text.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

}  // namespace

std::string hf_hub_cache_dir() {
  if (!env("HF_HUB_CACHE").empty()) return env("HF_HUB_CACHE");
  if (!env("HF_HOME").empty()) return env("HF_HOME") + "/hub";
  if (!env("XDG_CACHE_HOME").empty()) return env("XDG_CACHE_HOME") + "/huggingface/hub";
  return (env("HOME").empty() ? std::string("/root") : env("HOME")) + "/.cache/huggingface/hub";
}

std::string resolve_model_path(const std::string& path) {
  if (path.empty() || fs::exists(path) || !looks_like_hub_id(path)) return path;
  const std::string cache = hf_hub_cache_dir();
  const size_t slash = path.find('/');
  const fs::path repo = fs::path(cache) / ("models--" + path.substr(0, slash) + "--" + path.substr(slash + 1));
  const fs::path snapshots = repo / "snapshots";
  std::string revision;
  if (file_exists((repo / "refs" / "main").string())) revision = trimmed(read_file((repo / "refs" / "main").string()));
  if (revision.empty() && fs::is_directory(snapshots)) {  // no refs/main: the only snapshot, if there is one
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(snapshots))
      if (entry.is_directory()) found.push_back(entry.path().filename().string());
    if (found.size() == 1) revision = found[0];
    else if (found.size() > 1)
      fail(snapshots.string(), "refs/main naming one of its " + std::to_string(found.size()) + " snapshots",
           "no refs/main (pass the snapshot folder itself as the path)");
  }
  if (revision.empty() || revision.find('/') != std::string::npos || !fs::is_directory(snapshots / revision))
    fail(path, "a local model folder, or a Hub id already in the local Hugging Face cache (" + cache +
                   "; rlhf downloads nothing: `huggingface-cli download " + path + "` first)",
         revision.empty() ? "neither" : "refs/main naming snapshot " + revision + ", which is missing");
  const std::string dir = (snapshots / revision).string();
  std::fprintf(stderr, "%s: found in the Hugging Face cache at %s\n", path.c_str(), dir.c_str());
  return dir;
}

}  // namespace rlhf
