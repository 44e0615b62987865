// Inline SVG line and bar charts for `sprout report`; see report_svg.h.
#include "apps/report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace sprout::app::svg {

namespace {

constexpr double kWidth = 640, kHeight = 300;
constexpr double kLeft = 70, kRight = 160, kTop = 34, kBottom = 46;  // the legend sits on the right
constexpr size_t kMaxVertices = 1500;

// Round tick positions covering [lo, hi] (about five of them).
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) { step = m * mag; break; }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);  // no "-0" label
  return t;
}

std::string num(double v) {
  char b[32];
  const double a = std::abs(v);
  if (a != 0 && (a >= 1e6 || a < 1e-3)) std::snprintf(b, sizeof b, "%.2g", v);
  else std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string coord(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

struct Frame {
  double x0, x1, y0, y1;
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double py(double y) const { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

// The frame's axes, grid, tick labels, axis labels and title.
void axes(std::ostringstream& o, const Frame& f, const std::string& title, const std::string& xl,
          const std::string& yl, bool x_ticks) {
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
    << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\" class=\"chart\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    << "<text x=\"" << kLeft << "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">" << escape(title) << "</text>\n";
  for (double y : ticks(f.y0, f.y1))
    o << "<line x1=\"" << kLeft << "\" x2=\"" << coord(kWidth - kRight) << "\" y1=\"" << coord(f.py(y)) << "\" y2=\""
      << coord(f.py(y)) << "\" stroke=\"#e3e3e3\"/><text x=\"" << kLeft - 6 << "\" y=\"" << coord(f.py(y) + 4)
      << "\" font-size=\"11\" text-anchor=\"end\">" << num(y) << "</text>\n";
  if (x_ticks)
    for (double x : ticks(f.x0, f.x1))
      o << "<text x=\"" << coord(f.px(x)) << "\" y=\"" << kHeight - kBottom + 16
        << "\" font-size=\"11\" text-anchor=\"middle\">" << num(x) << "</text>\n";
  o << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft << "\" y1=\"" << kTop << "\" y2=\"" << kHeight - kBottom
    << "\" stroke=\"#333\"/><line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << kHeight - kBottom
    << "\" y2=\"" << kHeight - kBottom << "\" stroke=\"#333\"/>\n"
    << "<text x=\"" << coord((kLeft + kWidth - kRight) / 2) << "\" y=\"" << kHeight - 8
    << "\" font-size=\"12\" text-anchor=\"middle\">" << escape(xl) << "</text>\n"
    << "<text transform=\"translate(16," << coord((kTop + kHeight - kBottom) / 2)
    << ") rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">" << escape(yl) << "</text>\n";
}

const char* colour_of(const std::vector<Series>& s, size_t i) {
  return colour(s[i].colour >= 0 ? (size_t)s[i].colour : i);
}

void legend(std::ostringstream& o, const std::vector<Series>& series) {
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = kTop + 8 + (double)i * 18;
    const std::string& name = series[i].name;
    std::string n = name.size() > 22 ? name.substr(0, 21) + "~" : name;
    o << "<rect x=\"" << kWidth - kRight + 12 << "\" y=\"" << y - 8 << "\" width=\"14\" height=\"10\" fill=\""
      << colour_of(series, i) << "\"" << (series[i].dashed ? " fill-opacity=\"0.45\"" : "") << "/><text x=\""
      << kWidth - kRight + 30 << "\" y=\"" << y + 1 << "\" font-size=\"11\">"
      << escape(n) << "</text>\n";
  }
}

// Padded [lo, hi] of the values (a flat range widened so the frame has height).
std::pair<double, double> range(double lo, double hi, bool from_zero) {
  if (from_zero && lo > 0) lo = 0;
  if (hi - lo < 1e-12) { lo -= 0.5 * std::max(1.0, std::abs(lo)); hi += 0.5 * std::max(1.0, std::abs(hi)); }
  const double pad = (hi - lo) * 0.05;
  return {lo == 0 ? 0 : lo - pad, hi + pad};
}

}  // namespace

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

const char* colour(size_t i) {
  static const char* p[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                            "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return p[i % 10];
}

std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool markers) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (auto [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y)) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  if (!(x0 <= x1)) return "<p class=\"empty\">" + escape(title) + ": nothing recorded</p>\n";
  auto [ylo, yhi] = range(y0, y1, y0 >= 0 && y0 < (y1 - y0));
  auto [xlo, xhi] = range(x0, x1, false);
  const Frame f{xlo, xhi, ylo, yhi};
  std::ostringstream o;
  axes(o, f, title, x_label, y_label, true);
  for (size_t i = 0; i < series.size(); ++i) {
    // At most about kMaxVertices per line (a long run logs far more steps than a chart
    // has pixels); the last point is always drawn.
    const auto& p = series[i].points;
    const size_t every = p.size() / kMaxVertices + 1;
    std::string pts;
    for (size_t k = 0; k < p.size(); ++k)
      if ((k % every == 0 || k + 1 == p.size()) && std::isfinite(p[k].first) && std::isfinite(p[k].second))
        pts += coord(f.px(p[k].first)) + "," + coord(f.py(p[k].second)) + " ";
    o << "<polyline fill=\"none\" stroke=\"" << colour_of(series, i) << "\" stroke-width=\"2\""
      << (series[i].dashed ? " stroke-dasharray=\"5,3\"" : "") << " points=\"" << pts << "\"/>\n";
    if (markers || series[i].points.size() < 3)  // a lone point needs a dot to be seen
      for (auto [x, y] : series[i].points)
        if (std::isfinite(x) && std::isfinite(y))
          o << "<circle cx=\"" << coord(f.px(x)) << "\" cy=\"" << coord(f.py(y)) << "\" r=\"3\" fill=\""
            << colour_of(series, i) << "\"/>\n";
  }
  legend(o, series);
  o << "</svg>\n";
  return o.str();
}

std::string bar_chart(const std::string& title, const std::string& y_label, const std::vector<std::string>& groups,
                      const std::vector<Series>& series) {
  double hi = 0;
  for (const auto& s : series)
    for (auto [x, y] : s.points) hi = std::max(hi, std::isfinite(y) ? y : 0.0);
  if (groups.empty() || series.empty() || hi <= 0) return "<p class=\"empty\">" + escape(title) + ": nothing recorded</p>\n";
  const Frame f{0, (double)groups.size(), 0, hi * 1.05};
  std::ostringstream o;
  axes(o, f, title, "", y_label, false);
  const double group_w = (kWidth - kLeft - kRight) / (double)groups.size();
  const double bar_w = group_w * 0.8 / (double)series.size();
  for (size_t g = 0; g < groups.size(); ++g)
    o << "<text x=\"" << coord(kLeft + group_w * ((double)g + 0.5)) << "\" y=\"" << kHeight - kBottom + 16
      << "\" font-size=\"11\" text-anchor=\"middle\">" << escape(groups[g]) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    for (size_t g = 0; g < groups.size() && g < series[i].points.size(); ++g) {
      const double v = series[i].points[g].second;
      if (!std::isfinite(v) || v <= 0) continue;
      const double x = kLeft + group_w * ((double)g + 0.1) + bar_w * (double)i;
      o << "<rect x=\"" << coord(x) << "\" y=\"" << coord(f.py(v)) << "\" width=\"" << coord(bar_w * 0.92)
        << "\" height=\"" << coord(f.py(0) - f.py(v)) << "\" fill=\"" << colour_of(series, i) << "\""
        << (series[i].dashed ? " fill-opacity=\"0.45\"" : "") << "><title>" << escape(series[i].name) << ": "
        << num(v) << "</title></rect>\n";
    }
  }
  legend(o, series);
  o << "</svg>\n";
  return o.str();
}

}  // namespace sprout::app::svg
