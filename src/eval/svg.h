// Hand-written SVG charts for the report: grouped bars with error bars and reference lines, and line charts. Inline
// SVG needs no library, no subprocess and no network, renders the same in every browser, and lets each figure carry an
// id the report's test can look for. (gnuplot's SVG terminal would add a Debian dependency and a subprocess for ~200
// lines of drawing.) Missing values are NaN and draw nothing.
#pragma once
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace rlhf::eval {

struct BarSeries {
  std::string name;
  std::vector<double> values;     // one per category
  std::vector<double> low, high;  // error bar ends (empty: none)
};

struct BarChart {
  std::string id, title, y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
  double y_min = 0;
  double y_max = std::numeric_limits<double>::quiet_NaN();  // NaN (or not above y_min): from the data
  std::vector<std::pair<std::string, double>> reference_lines;  // dashed horizontal lines with a label
  std::string value_format = "%.2f";
  int width = 760, height = 330;
};
std::string render_bar_chart(const BarChart& chart);

struct LineSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

struct LineChart {
  std::string id, title, x_label, y_label;
  std::vector<LineSeries> series;
  int width = 370, height = 240;
};
std::string render_line_chart(const LineChart& chart);

// The colour of series i (a colour-blind-safe palette, Okabe & Ito 2008).
std::string series_colour(size_t i);
std::string xml_escape(const std::string& text);
// 0.1234 -> "0.12" with `format` (printf); NaN -> "n/a".
std::string format_number(double value, const std::string& format = "%.2f");

}  // namespace rlhf::eval
