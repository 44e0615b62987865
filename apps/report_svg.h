// Inline SVG charts for `sprout report`: line charts (several series, linear axes with
// round ticks, a legend) and grouped bar charts, as strings to put in an HTML page. No
// script, no external resource: the page is readable offline as it is.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace sprout::app::svg {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  bool dashed = false;  // lines dashed, bars and legend lighter
  int colour = -1;      // palette index; -1: the series' position
};

// Text safe inside HTML/SVG elements and attributes.
std::string escape(const std::string& s);
// The i-th colour of a fixed palette that stays distinct for the first ten.
const char* colour(size_t i);

// A line chart of the series; empty series are left out. With `markers` every point
// also gets a dot (for series of a few points, like per-epoch accuracy).
std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool markers = false);

// Grouped bars: one group per category, one bar per series (series[i].points[g].second
// is its value in group g; x is ignored).
std::string bar_chart(const std::string& title, const std::string& y_label, const std::vector<std::string>& groups,
                      const std::vector<Series>& series);

}  // namespace sprout::app::svg
