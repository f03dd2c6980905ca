// Helpers shared by the tokenizer tests: hand-made byte-level tokenizer.json specs, temporary folders, error capture.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "../../source_dir.h"
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tokenizer/byte_level.h"
#include "../error_of.h"

namespace rlhf::test {

using rlhf::error_of;  // (tests/cpp/error_of.h) the tokenizer tests name it test::error_of

// A fresh folder under the test temp dir.
inline std::string temp_dir(const std::string& name) {
  auto path = std::filesystem::path(::testing::TempDir()) / ("tok_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

inline std::string write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// The byte-level spelling of raw text ("a b" -> "aĠb").
inline std::string bl(const std::string& bytes) { return byte_level::encode(bytes); }

// A minimal byte-level BPE tokenizer.json: the 256 bytes at ids 0..255 in byte order, then one token per merge (ids
// 256...), given as raw-text pairs; "<|endoftext|>" as a special added token after them.
inline nlohmann::json tiny_spec(const std::vector<std::pair<std::string, std::string>>& merges = {}) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::char_for_byte(static_cast<unsigned char>(b))] = b;
  nlohmann::json merge_list = nlohmann::json::array();
  int next = 256;
  for (const auto& [left, right] : merges) {
    if (!vocab.contains(bl(left + right))) vocab[bl(left + right)] = next++;
    merge_list.push_back({bl(left), bl(right)});
  }
  nlohmann::json spec;
  spec["version"] = "1.0";
  spec["added_tokens"] = {{{"id", next}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
                           {"rstrip", false}, {"normalized", false}, {"special", true}}};
  spec["normalizer"] = nullptr;
  spec["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  spec["post_processor"] = nullptr;
  spec["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  spec["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                   {"ignore_merges", false}, {"vocab", vocab}, {"merges", merge_list}};
  return spec;
}

// GPT-2's real vocab.json + merges.txt (../shared/data/gpt2-tokenizer), or "" when shared/ is absent.
inline std::string gpt2_folder() {
  auto folder = std::filesystem::path(source_dir()).parent_path() / "shared" / "data" / "gpt2-tokenizer";
  return std::filesystem::exists(folder / "vocab.json") ? folder.string() : std::string();
}

}  // namespace rlhf::test
