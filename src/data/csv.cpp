#include "data/csv.h"

#include "common/error.h"
#include "data/jsonl.h"

namespace rlhf {

std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& path) {
  std::vector<CsvRecord> records;
  size_t line = 1, i = 0, n = text.size();
  // A UTF-8 byte order mark (spreadsheet exports) is not part of the first header name.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
  while (i < n) {
    if (text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) {  // a blank line
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    CsvRecord record;
    record.line_number = line;
    for (;;) {  // one field per turn; ends after the record's line break or at the end of the text
      std::string field;
      if (i < n && text[i] == '"') {
        size_t opened_on = line;
        ++i;
        for (;;) {
          if (i >= n)
            fail(path + ":" + std::to_string(opened_on), "a closing quote for the field opened on this line",
                 "the end of the file");
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field += '"', ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        if (i < n && text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
        if (i < n && text[i] != ',' && text[i] != '\n')
          fail(path + ":" + std::to_string(line), "a comma or a line break after a closing quote",
               "'" + std::string(1, text[i]) + "'");
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n') field += text[i++];
        if (!field.empty() && field.back() == '\r' && (i >= n || text[i] == '\n')) field.pop_back();
      }
      record.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n) ++i, ++line;  // the '\n' that ends the record
      break;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<CsvRecord> read_csv(const std::string& path) { return parse_csv(read_text(path), path); }

}  // namespace rlhf
