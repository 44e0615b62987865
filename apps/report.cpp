// `sprout report RUN_DIR [RUN_DIR...] --out report.html`: one self-contained HTML page
// (inline SVG, no script, no network) from what runs write: metrics.jsonl's step lines
// (loss, learning rate), epoch lines (test accuracy and loss) and topology events
// (per-layer density, dropped and grown), and summary.json (the comparison table and
// memory per category, sparse beside the dense equivalent).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/report_svg.h"
#include "engine/core/error.h"
#include "engine/io/config.h"

namespace sprout::app {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using svg::Series;

struct RunData {
  std::string name;
  Json summary;  // null when the run wrote none (still running, or stopped)
  std::vector<Json> steps, epochs, topology;
  int64_t bad_lines = 0;
};

// One JSON value from untrusted text, or a discarded value (too deep or malformed).
Json parse_line(const std::string& line) {
  if (io::line_too_deep(line, io::kMaxJsonDepth)) return Json(Json::value_t::discarded);
  return Json::parse(line, nullptr, false);
}

// j[key] when j is an object that holds it, else null: the files come from outside and
// may hold any shape of JSON.
const Json& at(const Json& j, const char* key) {
  static const Json none;
  return j.is_object() && j.contains(key) ? j[key] : none;
}

double num(const Json& j, const char* key) {
  const Json& v = at(j, key);
  return v.is_number() ? v.get<double>() : std::nan("");
}

std::string text(const Json& j, const char* key) {
  const Json& v = at(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

RunData read_run(const std::string& dir) {
  RunData r;
  r.name = fs::path(dir).filename().string();
  if (r.name.empty()) r.name = fs::path(dir).parent_path().filename().string();
  const std::string metrics = (fs::path(dir) / "metrics.jsonl").string();
  const std::string summary = (fs::path(dir) / "summary.json").string();
  SPROUT_CHECK(fs::is_directory(dir), "report: ", dir, " is not a run folder");
  SPROUT_CHECK(fs::exists(metrics) || fs::exists(summary), "report: ", dir, " holds neither metrics.jsonl nor summary.json");
  std::ifstream m(metrics);
  for (std::string line; std::getline(m, line);) {
    if (line.empty()) continue;
    Json j = parse_line(line);
    if (!j.is_object()) { ++r.bad_lines; continue; }  // a line a killed run left half-written
    if (text(j, "event") == "topology") r.topology.push_back(j);
    else if (j.contains("test_accuracy")) r.epochs.push_back(j);
    else if (j.contains("loss")) r.steps.push_back(j);
  }
  if (fs::exists(summary)) {
    std::ifstream s(summary);
    std::stringstream text;
    text << s.rdbuf();
    r.summary = parse_line(text.str());
    if (!r.summary.is_object()) r.summary = Json();
  }
  return r;
}

// (step, key) of every line that has both as numbers.
std::vector<std::pair<double, double>> points(const std::vector<Json>& lines, const char* key) {
  std::vector<std::pair<double, double>> p;
  for (const auto& j : lines)
    if (std::isfinite(num(j, "step")) && std::isfinite(num(j, key))) p.emplace_back(num(j, "step"), num(j, key));
  return p;
}

std::string cell(double v, const char* fmt) {
  if (!std::isfinite(v)) return "&ndash;";
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

std::string text_at(const Json& j, const char* section, const char* key) {
  return text(at(at(j, "config"), section), key);
}

// Bytes a run keeps for its parameters (weights, indices, gradients, optimizer state),
// peak, over the dense equivalent (weights, gradients, optimizer state).
double parameter_side_ratio(const Json& s) {
  const Json& m = at(s, "memory");
  double sparse = 0, dense = 0;
  for (const char* c : {"weights", "indices", "gradients", "optimizer"}) sparse += num(at(m, c), "peak_bytes");
  for (const char* c : {"weights_bytes", "gradients_bytes", "optimizer_bytes"}) dense += num(at(m, "dense_equivalent"), c);
  return dense > 0 ? sparse / dense : std::nan("");
}

std::string table(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<table><tr><th>run</th><th>model</th><th>method</th><th>density</th><th>top-1</th><th>top-5</th>"
       "<th>test loss</th><th>steps</th><th>train s</th><th>samples/s</th><th>stored / dense params</th>"
       "<th>parameter memory vs dense</th><th>FLOPs vs dense</th></tr>\n";
  for (const auto& r : runs) {
    const Json& s = r.summary;
    const Json& params = at(s, "parameters");
    const Json& time = at(s, "time");
    const Json& flops = at(s, "flops_per_step");
    o << "<tr><td>" << svg::escape(r.name) << "</td><td>" << svg::escape(text_at(s, "model", "name")) << "</td><td>"
      << svg::escape(text_at(s, "sparsity", "method")) << "</td><td>" << cell(num(s, "density"), "%.4f") << "</td><td>"
      << cell(num(s, "test_accuracy"), "%.4f") << "</td><td>" << cell(num(s, "test_top5"), "%.4f") << "</td><td>"
      << cell(num(s, "test_loss"), "%.4f") << "</td><td>" << cell(num(s, "steps"), "%.0f") << "</td><td>"
      << cell(num(time, "seconds_training"), "%.1f") << "</td><td>" << cell(num(time, "samples_per_second"), "%.0f")
      << "</td><td>" << cell(num(params, "stored"), "%.0f") << " / " << cell(num(params, "dense"), "%.0f")
      << "</td><td>" << cell(parameter_side_ratio(s), "%.3fx") << "</td><td>" << cell(num(flops, "ratio"), "%.3fx")
      << "</td></tr>\n";
  }
  o << "</table>\n";
  return o.str();
}

std::string curves(const std::vector<RunData>& runs) {
  std::vector<Series> loss, acc, lr;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    const int c = (int)i;
    loss.push_back({r.name + " train", points(r.steps, "loss"), false, c});
    loss.push_back({r.name + " test", points(r.epochs, "test_loss"), true, c});
    acc.push_back({r.name + " top-1", points(r.epochs, "test_accuracy"), false, c});
    lr.push_back({r.name, points(r.steps, "lr"), false, c});
  }
  return svg::line_chart("Loss (train per logged step, test per epoch: dashed)", "step", "loss", loss) +
         svg::line_chart("Test accuracy", "step", "top-1", acc, true) +
         svg::line_chart("Learning rate", "step", "lr", lr);
}

// Density per layer over the topology updates; flat from the summary when the method
// never changed its structure.
std::string density_chart(const RunData& r) {
  std::map<std::string, Series> by_layer;
  for (const auto& j : r.topology) {
    const std::string layer = text(j, "layer");
    by_layer[layer].name = layer;
    if (std::isfinite(num(j, "step")) && std::isfinite(num(j, "density")))
      by_layer[layer].points.emplace_back(num(j, "step"), num(j, "density"));
  }
  const Json& layers = at(r.summary, "layers");
  const double end = std::max(1.0, num(r.summary, "steps"));
  if (by_layer.empty() && layers.is_array())
    for (const auto& l : layers)
      if (l.is_object() && std::isfinite(num(l, "density")))
        by_layer[text(l, "name")] = {text(l, "name"), {{0.0, num(l, "density")}, {end, num(l, "density")}}};
  std::vector<Series> s;
  for (auto& [name, series] : by_layer) s.push_back(series);
  return svg::line_chart(r.name + ": density per layer", "step", "density", s, r.topology.size() < 400);
}

// Entries dropped and grown per topology update, summed over the layers.
std::string churn_chart(const RunData& r) {
  std::map<double, std::pair<double, double>> per_step;
  for (const auto& j : r.topology)
    if (std::isfinite(num(j, "step"))) {
      auto& [d, g] = per_step[num(j, "step")];
      d += std::isfinite(num(j, "dropped")) ? num(j, "dropped") : 0;
      g += std::isfinite(num(j, "grown")) ? num(j, "grown") : 0;
    }
  Series dropped{"dropped", {}, false, 1}, grown{"grown", {}, true, 2};
  for (auto& [step, dg] : per_step) {
    dropped.points.emplace_back(step, dg.first);
    grown.points.emplace_back(step, dg.second);
  }
  return svg::line_chart(r.name + ": topology churn (entries per update, all layers)", "step", "entries",
                         {dropped, grown}, per_step.size() < 200);
}

std::string memory_chart(const std::vector<RunData>& runs) {
  const std::vector<std::string> groups = {"weights", "gradients", "optimizer", "indices", "activations"};
  std::vector<Series> s;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    const Json& m = at(r.summary, "memory");
    if (!m.is_object()) continue;
    const Json& dense = at(m, "dense_equivalent");
    Series sparse{r.name, {}, false, (int)i}, dense_s{r.name + " dense", {}, true, (int)i};
    for (const auto& g : groups) {
      sparse.points.emplace_back(0, num(at(m, g.c_str()), "peak_bytes") / 1048576.0);
      dense_s.points.emplace_back(0, num(dense, (g + "_bytes").c_str()) / 1048576.0);
    }
    s.push_back(sparse);
    s.push_back(dense_s);
  }
  return svg::bar_chart("Memory per category, peak (MiB): each run beside its dense equivalent (lighter)", "MiB",
                        groups, s);
}

const char* kStyle =
    "body{font-family:sans-serif;margin:24px;color:#222;background:#fafafa}"
    "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}th{background:#eee}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #ddd}.empty{color:#777}";

}  // namespace

int run_report(const ReportArgs& a) {
  SPROUT_CHECK(!a.runs.empty(), "report: name at least one run folder");
  std::vector<RunData> runs;
  for (const auto& d : a.runs) runs.push_back(read_run(d));
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>sprout report</title><style>" << kStyle
    << "</style></head><body>\n<h1>sprout report</h1>\n<h2>Runs</h2>\n" << table(runs)
    << "<h2>Training</h2>\n<div class=\"charts\">\n" << curves(runs) << memory_chart(runs) << "</div>\n"
    << "<h2>Topology</h2>\n<div class=\"charts\">\n";
  for (const auto& r : runs) o << density_chart(r) << (r.topology.empty() ? "" : churn_chart(r));
  o << "</div>\n";
  for (const auto& r : runs)
    if (r.bad_lines) o << "<p class=\"empty\">" << svg::escape(r.name) << ": " << r.bad_lines
                       << " lines of metrics.jsonl were not JSON and were left out</p>\n";
  o << "</body></html>\n";
  const std::string tmp = a.out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << o.str();
    SPROUT_CHECK(f.good(), "report: cannot write ", tmp);
  }
  fs::rename(tmp, a.out);
  std::printf("sprout report: %zu runs -> %s\n", runs.size(), a.out.c_str());
  return 0;
}

}  // namespace sprout::app
