// The Arrow IPC reader (io/formats/arrow_stream.h) on files pyarrow wrote (tests/data/arrow/write_fixtures.py): its rows
// equal pyarrow's own (Table.to_pylist, NAME.json); what it does not read, and damage, are clear errors; no truncation
// or changed byte makes it read outside the file. And the rows of a split's files, Arrow and JSONL (data/dataset_rows.h).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/files.h"
#include "data/dataset_rows.h"
#include "data/formats.h"
#include "io/formats/arrow_stream.h"
#include "../error_of.h"
#include "../temp_dir.h"
#include "../../source_dir.h"

namespace rlhf {
namespace {

using json = nlohmann::json;

std::string fixture(const std::string& name) { return std::string(test::source_dir()) + "/tests/data/arrow/" + name; }

json read_rows(const std::string& path) {
  ArrowStreamReader reader(path);
  json rows = json::array(), row;
  while (reader.next(row)) {
    EXPECT_EQ(reader.row_index(), static_cast<int64_t>(rows.size()));
    rows.push_back(row);
  }
  return rows;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file in memory (memfd), rewritten for each of the thousands of variants below without touching the disk.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("arrow-test", MFD_CLOEXEC)), path_("/proc/self/fd/" + std::to_string(fd_)) {}
  ~MemoryFile() { ::close(fd_); }
  const std::string& hold(const std::string& bytes) {
    EXPECT_EQ(::ftruncate(fd_, 0), 0);
    EXPECT_EQ(::pwrite(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

TEST(ArrowStream, RowsEqualPyarrowsOwn) {
  for (const char* name : {"trl_columns", "scalar_types", "file_format"}) {
    SCOPED_TRACE(name);
    const json expected = json::parse(read_file(fixture(std::string(name) + ".json")));
    const json rows = read_rows(fixture(std::string(name) + ".arrow"));
    ASSERT_EQ(rows.size(), expected.size());
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i], expected[i]) << "row " << i;
  }
  // 64-bit integers stay exact (not doubles), and a half float is decoded.
  const json scalars = read_rows(fixture("scalar_types.arrow"));
  EXPECT_EQ(scalars[3]["u64"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(scalars[3]["i64"].get<int64_t>(), INT64_MIN);
  EXPECT_EQ(scalars[3]["f16"].get<double>(), -65504.0);
}

TEST(ArrowStream, DescribesTheSchema) {
  ArrowStreamReader reader(fixture("trl_columns.arrow"));
  EXPECT_EQ(reader.schema_description(),
            "messages: list<struct<role: string, content: string>>, prompt: string, chosen: large_string, "
            "rejected: large_list<struct<role: string, content: string>>, responses: list<string>, ranks: list<int64>, "
            "score: double, id: int64, accepted: bool, empty: null");
}

TEST(ArrowStream, WhatItDoesNotReadIsAClearError) {
  const std::pair<const char*, const char*> cases[] = {
      {"bad-compressed-zstd.arrow", "expected an uncompressed body (datasets writes none unless asked), found ZSTD"},
      {"bad-compressed-lz4.arrow", "found LZ4 frame compression"},
      {"bad-dictionary.arrow", "column 'prompt': expected plain values, found dictionary encoding"},
      {"bad-binary-column.arrow", "column 'image': expected a type rlhf reads"},
      {"bad-timestamp-in-struct.arrow", "column 'meta.when': expected a type rlhf reads"},
      {"bad-decreasing-offsets.arrow",
       "column 'prompt': expected offsets that never decrease, found offset 2 = 1 after 3"},
      {"bad-offsets-past-data.arrow",
       "column 'prompt': expected offsets within its 4 bytes of data, found a last offset of 100"},
      {"bad-list-offsets-past-items.arrow",
       "column 'responses': expected offsets within its 2 items, found a last offset of 5"},
      {"bad-invalid-utf8.arrow", "row 1: column 'prompt': expected UTF-8 text (a string column), found an invalid byte"},
  };
  for (const auto& [name, message] : cases) {
    SCOPED_TRACE(name);
    const std::string error = error_of([&] { read_rows(fixture(name)); });
    EXPECT_NE(error.find(fixture(name)), std::string::npos) << error;  // names the file
    EXPECT_NE(error.find(message), std::string::npos) << error;
  }
  EXPECT_NE(error_of([&] { read_rows(fixture("bad-binary-column.arrow")); }).find("found type binary"), std::string::npos);
  EXPECT_NE(error_of([&] { read_rows(fixture("bad-timestamp-in-struct.arrow")); }).find("found type timestamp"),
            std::string::npos);
}

TEST(ArrowStream, EveryTruncationIsAClearError) {
  MemoryFile file;
  EXPECT_NE(error_of([&] { read_rows(file.hold("")); }).find("found the end of the file"), std::string::npos);
  for (const char* name : {"trl_columns.arrow", "scalar_types.arrow"}) {
    const std::string bytes = read_file(fixture(name));
    for (size_t size = 0; size < bytes.size(); ++size) {
      // Without its last bytes (the end-of-stream marker at least) a stream is cut short: never a silent success.
      EXPECT_NE(error_of([&] { read_rows(file.hold(bytes.substr(0, size))); }), "") << name << " cut to " << size;
    }
  }
  const std::string bytes = read_file(fixture("trl_columns.arrow"));
  EXPECT_NE(error_of([&] { read_rows(file.hold(bytes.substr(0, bytes.size() - 8))); })
                .find("expected another message or the end-of-stream marker (0xFFFFFFFF 0x00000000), found the end of "
                      "the file (it was cut short?)"),
            std::string::npos);
}

// Each byte replaced by 0x00, 0xFF and itself with its top bit flipped: every file reads or fails with an rlhf::Error
// (an out-of-bounds read is an ASan report in `make test-asan`, and here often a crash: with the body's bounds check
// removed, this test segfaults). The metadata's flatbuffers, the lengths and the offsets are all in these files.
TEST(ArrowStream, NoChangedByteMakesItReadOutsideTheFile) {
  MemoryFile file;
  for (const char* name : {"trl_columns.arrow", "scalar_types.arrow", "file_format.arrow"}) {
    const std::string bytes = read_file(fixture(name));
    size_t refused = 0, read = 0;
    for (size_t at = 0; at < bytes.size(); ++at) {
      for (const unsigned char value : {0x00, 0xFF, static_cast<unsigned char>(bytes[at]) ^ 0x80}) {
        std::string changed = bytes;
        changed[at] = static_cast<char>(value);
        (error_of([&] { read_rows(file.hold(changed)); }).empty() ? read : refused)++;
      }
    }
    EXPECT_GT(refused, 0u) << name;
    EXPECT_GT(read, 0u) << name;  // changes inside string data are still files
  }
}

TEST(DatasetRows, ReadsTheFilesOfASplitInOrderNamingEachRow) {
  TempDir dir("DatasetRows", "order");
  const std::string jsonl = dir / "extra.jsonl";
  write_bytes(jsonl, "{\"prompt\": \"p\", \"completion\": \"c\"}\n\n{\"prompt\": \"q\", \"completion\": \"d\"}\n");
  std::vector<std::string> where;
  const auto report = for_each_row({fixture("file_format.arrow"), jsonl}, {},
                                   [&](const JsonlLine& row) { where.push_back(row.where); });
  const std::string arrow = fixture("file_format.arrow");
  EXPECT_EQ(where, (std::vector<std::string>{arrow + " row 0", arrow + " row 1", jsonl + ":1", jsonl + ":3"}));
  EXPECT_EQ(report.accepted, 4u);
  EXPECT_EQ(report.path, fixture("file_format.arrow") + " ... " + jsonl + " (2 files)");
  const auto examples = read_sft_examples(std::vector<std::string>{fixture("file_format.arrow"), jsonl});
  ASSERT_EQ(examples.size(), 4u);
  EXPECT_EQ(examples[1].prompt, "Und 2 plus 2?");
  EXPECT_EQ(examples[1].source, fixture("file_format.arrow") + " row 1");
  EXPECT_EQ(examples[3].completion, "d");
  EXPECT_EQ(first_row({fixture("file_format.arrow")})["completion"], "2.");
}

// TRL's conversational columns from an Arrow file: messages with nulls where a row has none; a bad row names its row,
// and skip_invalid counts it as it counts a bad JSONL line.
TEST(DatasetRows, ArrowRowsGoThroughTheTypedReaders) {
  const std::string path = fixture("trl_columns.arrow");
  EXPECT_NE(error_of([&] { read_sft_examples(path); }).find(path + " row 0: expected an SFT example"), std::string::npos);
  ReadReport report;
  const auto rankings = read_ranking_examples(path, JsonlOptions{true}, &report);
  // Only row 0 is a ranking (a prompt, 3 responses, 3 ranks); the others lack a prompt or have too few responses.
  ASSERT_EQ(rankings.size(), 1u);
  EXPECT_EQ(rankings[0].responses, (std::vector<std::string>{"7.", "eight", ""}));
  EXPECT_EQ(rankings[0].source, path + " row 0");
  EXPECT_EQ(report.accepted, 1u);
  EXPECT_EQ(report.skipped, 4u);
  EXPECT_NE(report.first_skipped[0].find(path + " row 1:"), std::string::npos) << report.first_skipped[0];
}

}  // namespace
}  // namespace rlhf
