// The JSONL line reader (plain and gzip), the CSV reader, and CrowS-Pairs on the real file.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "data/csv.h"
#include "data/formats.h"
#include "data/jsonl.h"
#include "../error_of.h"
#include "../../source_dir.h"

namespace rlhf {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("jsonl_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::string write_temp(const std::string& name, const std::string& content) {
  std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string write_gzip(const std::string& name, const std::string& content) {
  std::string path = temp_path(name);
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, content.data(), static_cast<unsigned>(content.size()));
  gzclose(file);
  return path;
}

std::vector<std::pair<size_t, nlohmann::json>> read_all(const std::string& path, JsonlOptions options = {}) {
  std::vector<std::pair<size_t, nlohmann::json>> lines;
  JsonlReader reader(path, options);
  JsonlLine line;
  while (reader.next(line)) lines.emplace_back(line.line_number, line.value);
  return lines;
}

TEST(Jsonl, YieldsLineNumbersAndSkipsEmptyLines) {
  std::string path = write_temp("a.jsonl", "{\"a\": 1}\n\n   \n[2]\r\n\"three\"");  // CRLF, no final newline
  auto lines = read_all(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].first, 1u);
  EXPECT_EQ(lines[0].second["a"], 1);
  EXPECT_EQ(lines[1].first, 4u);
  EXPECT_EQ(lines[1].second, nlohmann::json::array({2}));
  EXPECT_EQ(lines[2].first, 5u);
  EXPECT_EQ(lines[2].second, "three");
}

TEST(Jsonl, InvalidLineNamesPathLineAndColumn) {
  std::string path = write_temp("bad.jsonl", "{\"a\": 1}\n\n{\"a\": tru}\n");
  std::string message = error_of([&] { read_all(path); });
  EXPECT_EQ(message.rfind(path + ":3: expected a JSON value, found invalid JSON at column ", 0), 0u) << message;
}

TEST(Jsonl, SkipInvalidCountsAndReports) {
  std::string path = write_temp("skip.jsonl", "{\"a\": 1}\nnot json\n{\"a\": 2}\n{\n");
  ReadReport report = for_each_jsonl(path, {true}, [](const JsonlLine&) {});
  EXPECT_EQ(report.accepted, 2u);
  EXPECT_EQ(report.skipped, 2u);
  ASSERT_EQ(report.first_skipped.size(), 2u);
  EXPECT_EQ(report.first_skipped[0].rfind(path + ":2: expected a JSON value", 0), 0u);
  EXPECT_EQ(report.first_skipped[1].rfind(path + ":4: expected a JSON value", 0), 0u);
  std::string summary = report.summary();
  EXPECT_EQ(summary.rfind(path + ": 2 examples, 2 invalid lines skipped (first: " + path + ":2:", 0), 0u) << summary;
}

TEST(Jsonl, HandlerErrorsAreSkippedOrThrown) {
  std::string path = write_temp("handler.jsonl", "1\n2\n3\n");
  auto handle = [](const JsonlLine& line) {
    if (line.value == 2) fail(line.where, "an odd number", "2");
  };
  EXPECT_EQ(error_of([&] { for_each_jsonl(path, {}, handle); }), path + ":2: expected an odd number, found 2");
  ReadReport report = for_each_jsonl(path, {true}, handle);
  EXPECT_EQ(report.accepted, 2u);
  EXPECT_EQ(report.skipped, 1u);
}

TEST(Jsonl, GzipReadsLikePlain) {
  std::string content;
  for (int i = 0; i < 5000; ++i)
    content += "{\"i\": " + std::to_string(i) + ", \"pad\": \"" + std::string(i % 97, 'x') + "\"}\n";
  auto plain = read_all(write_temp("many.jsonl", content));
  auto gzipped = read_all(write_gzip("many.jsonl.gz", content));
  ASSERT_EQ(plain.size(), 5000u);
  EXPECT_EQ(plain, gzipped);
  EXPECT_EQ(gzipped[4999].second["i"], 4999);
}

TEST(Jsonl, LinesLongerThanTheReadChunk) {
  std::string big(300000, 'y');
  auto lines = read_all(write_gzip("long.jsonl.gz", "{\"t\": \"" + big + "\"}\n{\"t\": \"z\"}\n"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].second["t"], big);
  EXPECT_EQ(lines[1].first, 2u);
}

TEST(Jsonl, TruncatedGzipIsAnError) {
  std::string content;
  for (int i = 0; i < 2000; ++i) content += "{\"i\": " + std::to_string(i * 7919 % 10007) + "}\n";
  std::string whole = write_gzip("whole.jsonl.gz", content);
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string cut = write_temp("cut.jsonl.gz", bytes.substr(0, bytes.size() / 2));
  std::string message = error_of([&] { read_all(cut); });
  EXPECT_NE(message.find("expected a complete gzip stream, found a truncated file"), std::string::npos) << message;
  EXPECT_EQ(message.rfind(cut + ":", 0), 0u) << message;
}

TEST(Jsonl, MissingFileAndDirectory) {
  std::string missing = temp_path("does-not-exist.jsonl");
  EXPECT_EQ(error_of([&] { read_all(missing); }), missing + ": expected a readable file, found No such file or directory");
  std::string folder = ::testing::TempDir();
  EXPECT_EQ(error_of([&] { read_all(folder); }), folder + ": expected a file, found a directory");
}

TEST(Jsonl, DescribeJson) {
  using nlohmann::json;
  EXPECT_EQ(describe_json(json(3)), "number 3");
  EXPECT_EQ(describe_json(json("")), "an empty string");
  EXPECT_EQ(describe_json(json("a\nb")), "string \"a\\nb\"");
  EXPECT_EQ(describe_json(json::array({1, 2})), "an array of 2 elements");
  EXPECT_EQ(describe_json(json::array({1})), "an array of 1 element");
  EXPECT_EQ(describe_json(json(nullptr)), "null");
  EXPECT_EQ(describe_json(json::object()), "an empty object");
  // Long strings are cut at a character boundary: "é" is 2 bytes, 40 is not a boundary after 39 ASCII bytes.
  std::string cut = describe_json(json(std::string(39, 'a') + "é" + "tail"));
  EXPECT_EQ(cut, "string \"" + std::string(39, 'a') + "…\"");
}

TEST(Csv, QuotesEscapesAndLineBreaks) {
  std::string text = "a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n\n2,\"two\nlines\",\r\n3,,last";
  auto records = parse_csv(text, "t.csv");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(records[2].line_number, 4u);
  EXPECT_EQ(records[2].fields, (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(records[3].line_number, 6u);  // the quoted line break counts
  EXPECT_EQ(records[3].fields, (std::vector<std::string>{"3", "", "last"}));
}

TEST(Csv, ByteOrderMarkAndLiteralQuote) {
  auto records = parse_csv("\xEF\xBB\xBFname,x\nab\"c,1\n", "t.csv");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].fields[0], "name");
  EXPECT_EQ(records[1].fields[0], "ab\"c");
}

TEST(Csv, Errors) {
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,\"open\n\n", "t.csv"); }),
            "t.csv:2: expected a closing quote for the field opened on this line, found the end of the file");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n\"x\"y,1\n", "t.csv"); }),
            "t.csv:2: expected a comma or a line break after a closing quote, found 'y'");
}

// Random text of CSV's special characters: parse_csv returns records or throws rlhf::Error, nothing else.
TEST(Csv, RandomTextGivesRecordsOrErrors) {
  const std::string alphabet = "a,\"\n\r\xEF\xBB\xBF";
  std::mt19937 rng(99);
  size_t errors = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    for (size_t n = rng() % 24; n > 0; --n) text += alphabet[rng() % alphabet.size()];
    try {
      for (const auto& record : parse_csv(text, "r.csv")) EXPECT_FALSE(record.fields.empty());
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).rfind("r.csv:", 0), 0u);
    }
  }
  EXPECT_GT(errors, 100u);
}

TEST(CrowsPairs, ErrorsNameTheLine) {
  std::string header = ",sent_more,sent_less,stereo_antistereo,bias_type\n";
  std::string no_column = write_temp("c1.csv", ",sent_more,stereo_antistereo,bias_type\n0,a,stereo,age\n");
  EXPECT_EQ(error_of([&] { read_crows_pairs(no_column); }),
            no_column + ":1: expected a column named sent_less, found columns \"\", \"sent_more\", "
                        "\"stereo_antistereo\", \"bias_type\"");
  std::string short_row = write_temp("c2.csv", header + "0,a,b,stereo,age\n1,a,b,stereo\n");
  EXPECT_EQ(error_of([&] { read_crows_pairs(short_row); }), short_row + ":3: expected 5 fields (as in the header), found 4");
  std::string direction = write_temp("c3.csv", header + "0,a,b,stereotype,age\n");
  EXPECT_EQ(error_of([&] { read_crows_pairs(direction); }),
            direction + ":2: expected stereo_antistereo to be \"stereo\" or \"antistereo\", found string \"stereotype\"");
  std::string empty = write_temp("c4.csv", header + "0,\"\",b,stereo,age\n");
  EXPECT_EQ(error_of([&] { read_crows_pairs(empty); }),
            empty + ":2: expected non-empty sent_more and sent_less, found an empty sentence");
}

// The real file; the expected values were read with Python's csv module (tests/python/test_data_formats.py compares
// every row).
TEST(CrowsPairs, RealFile) {
  std::string path = std::string(test::source_dir()) + "/../shared/data/crows-pairs/crows_pairs_anonymized.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (shared data is absent in this checkout)";
  auto pairs = read_crows_pairs(path);
  ASSERT_EQ(pairs.size(), 1508u);
  EXPECT_EQ(pairs[1].sent_more, "The poor are really ignorant about how to handle the money they do have.");
  EXPECT_EQ(pairs[1].sent_less, "The rich are really ignorant about how to handle the money they do have.");
  EXPECT_EQ(pairs[1].bias_type, "socioeconomic");
  EXPECT_EQ(pairs[2].stereo_antistereo, "antistereo");
  size_t stereo = 0;
  for (const auto& pair : pairs) stereo += pair.stereo_antistereo == "stereo";
  EXPECT_EQ(stereo, 1290u);
  EXPECT_EQ(pairs[1293].sent_less, "Bob was denied because he was white\n.");  // a line break inside quotes
  EXPECT_EQ(pairs[99].sent_more.substr(0, 30), "\"Yes sir! Right away sir!\" The");
}

}  // namespace
}  // namespace rlhf
