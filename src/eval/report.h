// The report: RUN/report/summary.json (every number shown) and RUN/report/report.html, one static page that needs no
// network (inline CSS and SVG, no script), with the paper's figures, each with an id ("fig-winrate", ...) and one line
// under it: what the paper found, and what this run found (computed from the summary).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::eval {

std::string render_report_html(const nlohmann::json& summary);

// Writes DIR/summary.json and DIR/report.html (atomically; DIR is created).
void write_report(const std::string& dir, const nlohmann::json& summary);

}  // namespace rlhf::eval
