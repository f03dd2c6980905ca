#include "data/dataset_rows.h"

#include "common/error.h"
#include "io/formats/arrow_stream.h"

namespace rlhf {

bool is_arrow_file(const std::string& path) {
  const std::string suffix = ".arrow";
  const bool named = path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  return named || starts_like_arrow(path);
}

namespace {

// The rows of one Arrow file, handled as for_each_jsonl handles lines.
void for_each_arrow_row(const std::string& path, const JsonlOptions& options,
                        const std::function<void(const JsonlLine&)>& handle, ReadReport& report) {
  ArrowStreamReader reader(path);
  JsonlLine row;
  while (reader.next(row.value)) {
    row.line_number = static_cast<size_t>(reader.row_index()) + 1;
    row.where = path + " row " + std::to_string(reader.row_index());
    try {
      handle(row);
      ++report.accepted;
    } catch (const Error& error) {
      if (!options.skip_invalid) throw;
      report.skip(error.what());
    }
  }
}

}  // namespace

ReadReport for_each_row(const std::vector<std::string>& files, const JsonlOptions& options,
                        const std::function<void(const JsonlLine&)>& handle) {
  ReadReport total;
  total.path = describe_files(files);
  for (const auto& path : files) {
    ReadReport one;
    if (is_arrow_file(path)) {
      for_each_arrow_row(path, options, handle, one);
    } else {
      one = for_each_jsonl(path, options, handle);
    }
    total.accepted += one.accepted;
    for (const auto& message : one.first_skipped) total.skip(message);
    total.skipped += one.skipped - one.first_skipped.size();  // those whose messages were not kept
  }
  return total;
}

nlohmann::json first_row(const std::vector<std::string>& files) {
  for (const auto& path : files) {
    if (is_arrow_file(path)) {
      ArrowStreamReader reader(path);
      nlohmann::json row;
      if (reader.next(row)) return row;
      continue;
    }
    JsonlReader reader(path, JsonlOptions{true});
    JsonlLine line;
    if (reader.next(line)) return line.value;
  }
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

std::string describe_files(const std::vector<std::string>& files) {
  if (files.empty()) return "no files";
  if (files.size() == 1) return files[0];
  return files.front() + " ... " + files.back() + " (" + std::to_string(files.size()) + " files)";
}

}  // namespace rlhf
