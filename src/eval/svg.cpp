#include "eval/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rlhf::eval {

namespace {

std::string fmt(double v) {  // coordinates
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

// Tick positions: a "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals over [low, high].
std::vector<double> nice_ticks(double low, double high, int target = 5) {
  if (!(high > low)) high = low + 1;
  double raw = (high - low) / target;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * power) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(low / step - 1e-9) * step; t <= high + step * 1e-9; t += step) ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

std::string tick_label(double v) {
  char buffer[32];
  if (std::abs(v) >= 1e4 || (std::abs(v) < 1e-3 && v != 0)) std::snprintf(buffer, sizeof buffer, "%.1e", v);
  else std::snprintf(buffer, sizeof buffer, "%g", std::round(v * 1e6) / 1e6);
  return buffer;
}

std::string text(double x, double y, const std::string& content, const std::string& attributes = "") {
  return "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" " + attributes + ">" + xml_escape(content) + "</text>";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& attributes) {
  return "<line x1=\"" + fmt(x1) + "\" y1=\"" + fmt(y1) + "\" x2=\"" + fmt(x2) + "\" y2=\"" + fmt(y2) + "\" " + attributes + "/>";
}

std::string open_svg(const std::string& id, int width, int height, const std::string& title) {
  return "<svg id=\"" + xml_escape(id) + "\" class=\"figure\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) +
         " " + std::to_string(height) + "\" role=\"img\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">" +
         "<title>" + xml_escape(title) + "</title>" + text(width / 2.0, 16, title, "text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\"");
}

// Legend entries under the title, wrapped into rows that fit between `x` and `right`; returns the rows used.
int legend(const std::vector<std::string>& names, double x, double y, double right, std::string& out) {
  int rows = names.empty() ? 0 : 1;
  double at = x;
  for (size_t i = 0; i < names.size(); ++i) {
    const double width = 24 + 6.2 * static_cast<double>(names[i].size());
    if (at > x && at + width > right) at = x, y += 14, ++rows;
    out += "<rect x=\"" + fmt(at) + "\" y=\"" + fmt(y - 9) + "\" width=\"10\" height=\"10\" fill=\"" + series_colour(i) + "\"/>";
    out += text(at + 14, y, names[i]);
    at += width;
  }
  return rows;
}

// The y axis with grid lines; returns the SVG and the mapping value -> pixel through `to_y`.
struct YAxis {
  double low, high, top, bottom;
  double operator()(double v) const { return bottom - (v - low) / (high - low) * (bottom - top); }
};

std::string draw_y_axis(const YAxis& y, double left, double right, const std::string& label) {
  std::string out;
  for (double t : nice_ticks(y.low, y.high)) {
    out += line(left, y(t), right, y(t), "stroke=\"#e5e5e5\"");
    out += text(left - 5, y(t) + 4, tick_label(t), "text-anchor=\"end\" fill=\"#444\"");
  }
  out += line(left, y.top, left, y.bottom, "stroke=\"#333\"");
  out += line(left, y.bottom, right, y.bottom, "stroke=\"#333\"");
  out += text(14, (y.top + y.bottom) / 2, label,
              "text-anchor=\"middle\" transform=\"rotate(-90 14 " + fmt((y.top + y.bottom) / 2) + ")\" fill=\"#333\"");
  return out;
}

}  // namespace

std::string series_colour(size_t i) {
  static const char* palette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
  return palette[i % 8];
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_number(double value, const std::string& format) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format.c_str(), value);
  return buffer;
}

std::string render_bar_chart(const BarChart& c) {
  const double left = 56, right = c.width - 12.0, bottom = c.height - 46.0;
  std::string legend_svg;
  std::vector<std::string> names;
  for (const auto& s : c.series) names.push_back(s.name);
  const int rows = names.size() > 1 ? legend(names, left, 34, right, legend_svg) : 0;
  const double top = 46 + 14.0 * std::max(0, rows - 1);
  double high = c.y_max;
  if (!(high > c.y_min)) {
    high = c.y_min;
    for (const auto& s : c.series) {
      for (double v : s.values) if (std::isfinite(v)) high = std::max(high, v);
      for (double v : s.high) if (std::isfinite(v)) high = std::max(high, v);
    }
    for (const auto& r : c.reference_lines) if (std::isfinite(r.second)) high = std::max(high, r.second);
    high = high > c.y_min ? c.y_min + (high - c.y_min) * 1.1 : c.y_min + 1;
  }
  YAxis y{c.y_min, high, top, bottom};
  std::string out = open_svg(c.id, c.width, c.height, c.title) + legend_svg;
  out += draw_y_axis(y, left, right, c.y_label);
  const double group = (right - left) / std::max<size_t>(1, c.categories.size());
  const double bar = std::min(40.0, group * 0.8 / std::max<size_t>(1, c.series.size()));
  for (size_t g = 0; g < c.categories.size(); ++g) {
    const double centre = left + group * (static_cast<double>(g) + 0.5);
    out += text(centre, bottom + 15, c.categories[g], "text-anchor=\"middle\" fill=\"#222\"");
    for (size_t s = 0; s < c.series.size(); ++s) {
      const BarSeries& series = c.series[s];
      if (g >= series.values.size() || !std::isfinite(series.values[g])) continue;
      const double v = std::clamp(series.values[g], y.low, y.high);
      const double x = centre - bar * static_cast<double>(c.series.size()) / 2 + bar * static_cast<double>(s);
      out += "<rect class=\"bar\" x=\"" + fmt(x + 1) + "\" y=\"" + fmt(std::min(y(v), y(y.low))) + "\" width=\"" +
             fmt(bar - 2) + "\" height=\"" + fmt(std::abs(y(y.low) - y(v))) + "\" fill=\"" + series_colour(s) + "\"><title>" +
             xml_escape(series.name + ", " + c.categories[g] + ": " + format_number(series.values[g], c.value_format)) +
             "</title></rect>";
      if (g < series.low.size() && g < series.high.size() && std::isfinite(series.low[g]) && std::isfinite(series.high[g])) {
        const double mid = x + bar / 2, lo = y(std::clamp(series.low[g], y.low, y.high)), hi = y(std::clamp(series.high[g], y.low, y.high));
        out += "<g class=\"error-bar\" stroke=\"#222\">" + line(mid, lo, mid, hi, "") + line(mid - 4, lo, mid + 4, lo, "") +
               line(mid - 4, hi, mid + 4, hi, "") + "</g>";
      }
      if (c.series.size() * c.categories.size() <= 16)
        out += text(x + bar / 2, bottom + 28, format_number(series.values[g], c.value_format),
                    "text-anchor=\"middle\" font-size=\"9\" fill=\"" + series_colour(s) + "\"");
    }
  }
  for (const auto& [label, value] : c.reference_lines) {
    if (!std::isfinite(value) || value < y.low || value > y.high) continue;
    out += line(left, y(value), right, y(value), "class=\"reference\" stroke=\"#b00\" stroke-dasharray=\"5 3\"");
    out += text(right - 4, y(value) - 4, label + " " + format_number(value, c.value_format), "text-anchor=\"end\" fill=\"#b00\"");
  }
  return out + "</svg>";
}

std::string render_line_chart(const LineChart& c) {
  const double left = 56, right = c.width - 10.0, bottom = c.height - 34.0;
  std::string legend_svg;
  std::vector<std::string> names;
  for (const auto& s : c.series) names.push_back(s.name);
  const int rows = names.size() > 1 ? legend(names, left, 34, right, legend_svg) : 0;
  const double top = 46 + 14.0 * std::max(0, rows - 1);
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low, y_low = x_low, y_high = -x_low;
  for (const auto& s : c.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_low = std::min(x_low, x), x_high = std::max(x_high, x), y_low = std::min(y_low, y), y_high = std::max(y_high, y);
    }
  std::string out = open_svg(c.id, c.width, c.height, c.title);
  if (!std::isfinite(x_low)) return out + text(c.width / 2.0, c.height / 2.0, "no data", "text-anchor=\"middle\"") + "</svg>";
  if (x_high == x_low) x_high = x_low + 1;
  const double pad = y_high > y_low ? (y_high - y_low) * 0.08 : 0.5;
  YAxis y{y_low - pad, y_high + pad, top, bottom};
  auto to_x = [&](double x) { return left + (x - x_low) / (x_high - x_low) * (right - left); };
  out += legend_svg;
  out += draw_y_axis(y, left, right, c.y_label);
  for (double t : nice_ticks(x_low, x_high, 4))
    out += text(to_x(t), bottom + 14, tick_label(t), "text-anchor=\"middle\" fill=\"#444\"");
  out += text((left + right) / 2, bottom + 28, c.x_label, "text-anchor=\"middle\" fill=\"#333\"");
  for (size_t s = 0; s < c.series.size(); ++s) {
    std::string points;
    for (const auto& [x, v] : c.series[s].points)
      if (std::isfinite(x) && std::isfinite(v)) points += fmt(to_x(x)) + "," + fmt(y(v)) + " ";
    out += "<polyline class=\"curve\" fill=\"none\" stroke-width=\"1.6\" stroke=\"" + series_colour(s) + "\" points=\"" + points +
           "\"><title>" + xml_escape(c.series[s].name) + "</title></polyline>";
  }
  return out + "</svg>";
}

}  // namespace rlhf::eval
