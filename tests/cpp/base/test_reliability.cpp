// Bad input and a hostile environment, torch-free: a full disk (RLIMIT_FSIZE) and an unwritable folder under
// AtomicWriter, and the crashers the fuzz targets guard against (tests/fuzz/regressions/) with the messages users see.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/options.h"
#include "data/jsonl.h"
#include "io/formats/safetensors.h"
#include "model/config.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "../error_of.h"

namespace rlhf {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  fs::path dir = fs::path(testing::TempDir()) / ("reliability_" + std::to_string(::getpid()) + "_" + name);
  remove_tree(dir.string());
  fs::create_directories(dir);
  return dir.string();
}

std::string write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// Files in `dir` other than `keep` (a leftover temporary file would show here).
size_t other_files(const std::string& dir, const std::string& keep) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n += entry.path().filename() != keep;
  return n;
}

// A file-size limit as `ulimit -f` sets it, with SIGXFSZ ignored as the rlhf CLI does: write() fails with EFBIG.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limited = previous_;
    limited.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limited);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit previous_{};
  void (*previous_handler_)(int) = nullptr;
};

TEST(Reliability, AFullDiskNamesThePathAndKeepsThePreviousFile) {
  const std::string dir = fresh_dir("full"), path = dir + "/model.safetensors";
  write_file_atomic(path, "the previous version");
  std::string message;
  {
    FileSizeLimit limit(64 * 1024);
    message = error_of([&] { write_file_atomic(path, std::string(1 << 20, 'x')); });
  }
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_NE(message.find("nothing replaced"), std::string::npos) << message;
  EXPECT_EQ(read_file(path), "the previous version");
  EXPECT_EQ(other_files(dir, "model.safetensors"), 0u);  // the temporary file is gone
}

TEST(Reliability, AnUnwritableFolderNamesThePath) {
  const std::string dir = fresh_dir("readonly");
  ::chmod(dir.c_str(), 0555);
  // Root writes anywhere: the check runs in a child that drops to "nobody" first.
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && ::setuid(65534) != 0) std::_Exit(3);
        const std::string message = error_of([&] { write_file_atomic(dir + "/config.json", "{}"); });
        const bool names_path = message.find(dir + "/config.json") != std::string::npos;
        const bool says_why = message.find("Permission denied") != std::string::npos;
        std::fprintf(stderr, "%s\n", message.c_str());
        std::_Exit(names_path && says_why ? 0 : 2);
      },
      testing::ExitedWithCode(0), "expected a writable location, found Permission denied");
  ::chmod(dir.c_str(), 0755);
}

// Found by reading the header checks against the fuzz target's invariants: a shape whose element count times the dtype
// size wraps around 2^64 matched data_offsets [0, 0], and torch::from_blob then read 2^61 doubles from an empty buffer.
TEST(Reliability, SafetensorsShapeWhoseByteSizeWrapsAroundIsRefused) {
  const std::string header = R"({"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})";
  uint64_t length = header.size();
  const std::string path = fresh_dir("st") + "/wrap.safetensors";
  write(path, std::string(reinterpret_cast<const char*>(&length), 8) + header);
  const std::string message = error_of([&] { SafetensorsFile file(path); });
  EXPECT_NE(message.find(path + " tensor 'a': expected shape × dtype size"), std::string::npos) << message;
}

ModelConfig config_of(const std::string& json) { return load_model_config(write(fresh_dir("cfg") + "/config.json", json)); }

// Each was a crash before: a division by zero (SIGFPE), nlohmann exceptions escaping as std::terminate, an undefined
// float -> int64 conversion, and parameter counts overflowing int64.
TEST(Reliability, ConfigJsonSizesAreChecked) {
  EXPECT_NE(error_of([] {
              config_of(R"({"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":8,)"
                        R"("num_hidden_layers":1,"num_attention_heads":0,"intermediate_size":16})");
            }).find("expected 'num_attention_heads' from 1 to 4096, found 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { config_of(R"({"architectures":[3],"model_type":"gpt2"})"); })
                .find("expected architectures: a list of names, found [3]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_of(R"({"architectures":["GPT2LMHeadModel"],"vocab_size":10,"n_embd":8,"n_layer":1,"n_head":2,)"
                        R"("eos_token_id":["</s>"]})");
            }).find("expected a token id (an integer >= 0) for 'eos_token_id'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_of(R"({"architectures":["GPT2LMHeadModel"],"vocab_size":1e300,"n_embd":8,"n_layer":1,"n_head":2})");
            }).find("expected an integer for 'vocab_size', found 1e+300"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_of(R"({"architectures":["LlamaForCausalLM"],"vocab_size":4000000000,"hidden_size":64,)"
                        R"("num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":128})");
            }).find("expected 'vocab_size' from 1 to 16777216, found 4000000000"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_of(R"({"architectures":["GPT2LMHeadModel"],"vocab_size":10,"n_embd":10,"n_layer":1,"n_head":4})");
            }).find("expected a hidden size divisible by the number of heads, found 10 and 4 heads"),
            std::string::npos);
  // The sizes of real models pass (Llama-3-405B's, without loading anything).
  ModelConfig big = config_of(R"({"architectures":["LlamaForCausalLM"],"vocab_size":128256,"hidden_size":16384,)"
                              R"("num_hidden_layers":126,"num_attention_heads":128,"num_key_value_heads":8,)"
                              R"("intermediate_size":53248,"max_position_embeddings":131072})");
  EXPECT_GT(big.parameter_count(), int64_t{400} * 1000 * 1000 * 1000);
}

// RoPE with theta <= 0 or a scaling factor of 0 computed NaN, infinite or constant angles without a word (issue 29).
TEST(Reliability, RopeSettingsAreChecked) {
  const std::string llama = R"({"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":8,)"
                            R"("num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,)";
  const std::string path = fresh_dir("cfg") + "/config.json";
  auto error = [&](const std::string& rest) {
    return error_of([&] { load_model_config(write(path, llama + rest)); });
  };
  EXPECT_EQ(error(R"("rope_theta":0})"), path + ": expected 'rope_theta' above 0 (and finite), found 0.0");
  EXPECT_EQ(error(R"("rope_theta":-10000})"), path + ": expected 'rope_theta' above 0 (and finite), found -10000.0");
  EXPECT_EQ(error(R"("rope_scaling":{"rope_type":"linear","factor":0}})"),
            path + ": expected 'rope_scaling.factor' above 0 (and finite), found 0.0");
  EXPECT_EQ(error(R"("rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":4,"high_freq_factor":4}})"),
            path + ": expected rope_scaling.high_freq_factor above low_freq_factor, found 4.0 and 4.0");
  EXPECT_EQ(error(R"("rope_theta":500000,"rope_scaling":{"rope_type":"llama3","factor":8}})"), "");
}

// yaml-cpp threw its own exception (std::terminate in the CLI) for a key that is not a scalar.
TEST(Reliability, YamlKeysThatAreNotNamesAreRefused) {
  double rate = 0;
  Options options;
  options.add("learning_rate", &rate, "rate");
  const std::string dir = fresh_dir("yaml");
  EXPECT_NE(error_of([&] { options.load_yaml(write(dir + "/a.yaml", "[a, b]: 1\n")); })
                .find("a.yaml:1: expected an option name, found a list, mapping or null as key"),
            std::string::npos);
  EXPECT_NE(error_of([&] { options.load_yaml(write(dir + "/b.yaml", "? {a: 1}\n: 2\n")); }).find("expected an option name"),
            std::string::npos);
}

// Tables are sized by the largest id: one token with id 2^31 - 2 made the loader allocate 2^31 strings (64 GB).
TEST(Reliability, TokenizerIdsFarBeyondTheVocabularyAreRefused) {
  const std::string spec =
      R"({"version":"1.0","added_tokens":[],"normalizer":null,"post_processor":null,)"
      R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},)"
      R"("decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},)"
      R"("model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,)"
      R"("end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,)"
      R"("vocab":{"a":2147483646},"merges":[]}})";
  EXPECT_NE(error_of([&] { BpeTokenizer::from_json_text(spec, "big/tokenizer.json"); })
                .find("big/tokenizer.json: expected ids below 65537 for 1 tokens, found id 2147483646"),
            std::string::npos);
}

// A run killed after an epoch's eval_loss line but before the epoch-end checkpoint resumes from a checkpoint of the same
// step and evaluates again: the line count the checkpoint recorded keeps the first eval_loss from being logged twice
// (found by test_reliability.py's SIGKILL runs).
TEST(Reliability, ResumedMetricsKeepOnlyTheLinesWrittenBeforeTheCheckpoint) {
  const std::string dir = fresh_dir("metrics");
  int64_t at_checkpoint = 0;
  {
    MetricsLogger logger(dir);
    logger.log(1, {{"loss", 1.0}}, 1.0);
    logger.log(2, {{"loss", 0.5}}, 2.0);
    at_checkpoint = logger.lines_written();  // the checkpoint of step 2 is taken here
    logger.log(2, {{"eval/loss", 0.7}}, 3.0);  // then the process is killed
  }
  MetricsLogger resumed(dir, int64_t{2}, at_checkpoint);
  EXPECT_EQ(resumed.lines_written(), 2);
  EXPECT_EQ(resumed.lines_dropped_on_resume(), 1u);
  resumed.log(2, {{"eval/loss", 0.7}}, 4.0);
  const std::string text = read_file(dir + "/metrics.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.find("eval/loss"), text.rfind("eval/loss"));
}

// Two runs into one output folder mixed it (issue 29): a second lock on the folder, even from the same process (flock
// locks belong to the open file, not the process), is refused naming the holder's pid; after release it is free again
// and the lock file is gone.
TEST(Reliability, AFolderLockRefusesASecondHolderNamingThePid) {
  const std::string dir = fresh_dir("lock") + "/out";
  {
    FolderLock first(dir);  // creates the folder
    EXPECT_EQ(read_file(dir + "/.rlhf.lock"), std::to_string(::getpid()) + "\n");
    EXPECT_EQ(error_of([&] { FolderLock second(dir); }),
              dir + ": expected an output folder no other run is using, found one in use by process " +
                  std::to_string(::getpid()) + " (" + dir + "/.rlhf.lock); wait for it to end or choose another "
                  "--output_dir");
  }
  EXPECT_FALSE(file_exists(dir + "/.rlhf.lock"));
  write(dir + "/.rlhf.lock", "999999\n");  // left by a killed run: no flock is held on it
  EXPECT_EQ(error_of([&] { FolderLock again(dir); }), "");
}

// A kill during a save left NAME.tmp-PID behind for good (issue 29). Only that pattern goes, and only when process PID
// is gone: a live writer's file, other names and subfolders stay.
TEST(Reliability, StaleTemporaryFilesOfDeadProcessesAreRemoved) {
  const std::string dir = fresh_dir("stale");
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // a pid that no longer runs
  const std::string dead = std::to_string(child), alive = std::to_string(::getpid());
  const std::vector<std::string> names = {"model.safetensors.tmp-" + dead, "training_args.json.tmp-" + dead,
                                          "model.safetensors.tmp-" + alive, "notes.tmp-draft", "model.safetensors",
                                          ".tmp-" + dead};
  for (const std::string& name : names) write(dir + "/" + name, "x");
  fs::create_directories(dir + "/.tmp-step-4");
  fs::create_directories(dir + "/sub");
  write(dir + "/sub/latest.tmp-" + dead, "x");
  EXPECT_EQ(remove_stale_temp_files(dir), 2u);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir)) left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".tmp-" + dead, ".tmp-step-4", "model.safetensors",
                                            "model.safetensors.tmp-" + alive, "notes.tmp-draft", "sub"}));
  EXPECT_TRUE(file_exists(dir + "/sub/latest.tmp-" + dead));  // subfolders are the caller's choice
}

// A value nested `depth` arrays deep: 200,000 levels is 400 KB.
std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string safetensors_with_header(const std::string& path, const std::string& header) {
  uint64_t length = header.size();
  return write(path, std::string(reinterpret_cast<const char*>(&length), 8) + header);
}

// Each reader printed the deep value in its error message (nlohmann's dump() recurses once per level: SIGSEGV at
// 60-75k levels, issue 29); now every JSON text is refused before it is parsed, naming the file.
TEST(Reliability, DeeplyNestedJsonIsRefusedByEveryReader) {
  const std::string dir = fresh_dir("deep"), deep = nested(200000);
  const std::string too_deep = ": expected JSON nested at most 256 levels deep, found nesting deeper than 256 at ";
  auto expect_refused = [&](const std::string& message, const std::string& where) {
    EXPECT_EQ(message.rfind(where + too_deep, 0), 0u) << message.substr(0, 300);
  };
  const std::string config = write(dir + "/config.json", R"({"model_type": "gpt2", "architectures": )" + deep + "}");
  expect_refused(error_of([&] { load_model_config(config); }), config);

  const std::string weights = safetensors_with_header(dir + "/model.safetensors", R"({"__metadata__": {"format": )" +
                                                                                     deep + "}}");
  expect_refused(error_of([&] { SafetensorsFile file(weights); }), weights);

  const std::string spec =
      R"({"version":"1.0","added_tokens":[],"normalizer":null,"post_processor":null,"pre_tokenizer":null,)"
      R"("decoder":null,"model":{"type":"BPE","vocab":{"a":)" + deep + R"(},"merges":[]}})";
  expect_refused(error_of([&] { BpeTokenizer::from_json_text(spec, "deep/tokenizer.json"); }), "deep/tokenizer.json");

  fs::create_directories(dir + "/tokenizer");
  const std::string tokenizer_config = write(dir + "/tokenizer/tokenizer_config.json", R"({"eos_token": )" + deep + "}");
  write(dir + "/tokenizer/tokenizer.json", spec);
  expect_refused(error_of([&] { load_tokenizer(dir + "/tokenizer"); }), tokenizer_config);

  // A JSONL line: the line's own message (and --skip_invalid_lines skips it like any invalid line).
  const std::string jsonl = write(dir + "/data.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": " + deep + "}\n");
  expect_refused(error_of([&] { for_each_jsonl(jsonl, {}, [](const JsonlLine&) {}); }), jsonl + ":2");
  EXPECT_EQ(for_each_jsonl(jsonl, {true}, [](const JsonlLine&) {}).skipped, 1u);
}

// The limit is exactly kMaxJsonDepth, and brackets inside strings do not count.
TEST(Reliability, JsonNestingLimitIsExactAndIgnoresStrings) {
  EXPECT_EQ(parse_json(nested(kMaxJsonDepth), "ok.json").dump().size(), 2 * kMaxJsonDepth);
  EXPECT_EQ(error_of([] { parse_json(nested(kMaxJsonDepth + 1), "deep.json"); }),
            "deep.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column 257");
  EXPECT_EQ(error_of([] { parse_json("{\"a\":\n  " + nested(300) + "}", "deep.json"); }),
            "deep.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at line 2, column 258");
  const std::string brackets_in_a_string = "[\"" + std::string(1000, '[') + "\\\"{\"]";
  EXPECT_EQ(parse_json(brackets_in_a_string, "ok.json")[0].get<std::string>().size(), 1002u);
}

// Values printed in messages are cut short without being dumped whole (one built in memory, not parsed: 200,000 deep).
TEST(Reliability, JsonExcerptIsShortWhateverTheValue) {
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 200000; ++i) deep = nlohmann::json::array({std::move(deep)});
  const std::string excerpt = json_excerpt(deep, 40);
  EXPECT_EQ(excerpt, std::string(40, '[') + "…");
  EXPECT_EQ(json_excerpt(nlohmann::json({{"a", std::string(1000, 'x')}}), 20), "{\"a\":\"" + std::string(14, 'x') + "…");
  EXPECT_EQ(json_excerpt(nlohmann::json::parse(R"({"shape":[1,2],"s":"t\nu"})")), R"({"s":"t\nu","shape":[1,2]})");
}

}  // namespace
}  // namespace rlhf
