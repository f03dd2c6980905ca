// RFC 4180 CSV, enough for the public data sets we evaluate on (CrowS-Pairs): comma-separated fields, optionally in
// double quotes, "" for a quote inside quotes, line breaks allowed inside quotes. A quote inside an unquoted field is
// taken literally (as Python's csv module does). Blank lines are skipped.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace rlhf {

struct CsvRecord {
  size_t line_number = 0;  // the line the record starts on (1-based), for messages
  std::vector<std::string> fields;
};

// `path` only names the text in errors ("path:LINE: expected a closing quote ..., found the end of the file").
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& path);

// A file (gzip'ed or not) read with parse_csv; line breaks "\r\n" become "\n", inside quoted fields too.
std::vector<CsvRecord> read_csv(const std::string& path);

}  // namespace rlhf
