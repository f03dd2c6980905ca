// The rows of one split of a dataset: its files in order (one file, or the shards of a split), each JSONL (a JSON value a
// line, plain or gzip'ed) or an Arrow stream as `datasets`' save_to_disk writes it (io/formats/arrow_stream.h, a row an
// object). The typed readers (data/formats.h) read their rows here, so a split gives the same examples in either form.
// A row's `where` starts every message about it: "path:LINE" for a JSONL line, "path row N" for an Arrow row (N from 0,
// as `dataset[N]` counts the rows of a one-file split).
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/jsonl.h"

namespace rlhf {

// True for a file read as Arrow: named *.arrow, or starting with Arrow's bytes (a stream's 0xFFFFFFFF, a file's "ARROW1").
bool is_arrow_file(const std::string& path);

// Calls `handle` for every row of every file, in order. An rlhf::Error thrown by `handle` (or a line that is not JSON)
// fails the read or, with skip_invalid, is counted and the read goes on; a damaged Arrow file always fails. The report
// sums the files (its path is describe_files(files)).
ReadReport for_each_row(const std::vector<std::string>& files, const JsonlOptions& options,
                        const std::function<void(const JsonlLine&)>& handle);

// The first row of the files (passing over JSONL lines that are not JSON: the typed reader reports them); a discarded
// value when there is none.
nlohmann::json first_row(const std::vector<std::string>& files);

// The files for a message: "PATH" for one; "FIRST ... LAST (N files)" for several.
std::string describe_files(const std::vector<std::string>& files);

}  // namespace rlhf
