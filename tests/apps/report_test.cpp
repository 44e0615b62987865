// `sprout report` through the real binary on run folders written here (metrics.jsonl
// and summary.json as runs write them): the page holds every chart with the recorded
// points and nothing fetched from elsewhere; headless Chromium renders it, and the
// screenshot shows the series' colours (decoded here from the PNG with zlib).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "apps/recipe_testing.h"
#include "testing.h"

#if SPROUT_WITH_ZLIB
#include <zlib.h>
#endif

namespace sprout {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::read_text;
using testing::run_sprout;

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("sprout_report_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A run folder: `steps` logged steps, two epochs, topology updates on two layers (when
// `sparse`), a summary with memory and layers; plus one half-written line.
void write_run(const std::string& dir, bool sparse, int steps) {
  fs::create_directories(dir);
  std::ofstream m(dir + "/metrics.jsonl");
  for (int s = 1; s <= steps; ++s) {
    m << Json{{"step", s * 10}, {"epoch", 1}, {"loss", 2.0 / s}, {"lr", 0.1 - 0.001 * s}}.dump() << "\n";
    if (sparse)
      for (const char* layer : {"0.weight", "2.weight"})
        m << Json{{"event", "topology"}, {"step", s * 10}, {"layer", layer}, {"density", 0.1},
                  {"dropped", 100 - s}, {"grown", 100 - s}, {"nnz", 500}}.dump() << "\n";
  }
  for (int e = 1; e <= 2; ++e)
    m << Json{{"epoch", e}, {"step", e * steps * 5}, {"test_accuracy", 0.5 + 0.1 * e}, {"test_loss", 1.0 / e},
              {"test_top5", 0.9}, {"density", sparse ? 0.1 : 1.0}}.dump() << "\n";
  m << "{\"step\": 1, \"loss\":";  // a killed run's last line
  const Json cat = {{"peak_bytes", 4 << 20}, {"current_bytes", 0}};
  Json s = {{"config", {{"model", {{"name", "mlp"}}}, {"sparsity", {{"method", sparse ? "rigl" : "dense"}}}}},
            {"density", sparse ? 0.1 : 1.0}, {"test_accuracy", 0.7}, {"test_top5", 0.9}, {"test_loss", 0.5},
            {"steps", steps * 10}, {"parameters", {{"stored", 10}, {"dense", 100}}},
            {"time", {{"seconds_training", 1.5}, {"samples_per_second", 1000}}},
            {"layers", Json::array({{{"name", "0.weight"}, {"density", sparse ? 0.1 : 1.0}}})},
            {"memory", {{"weights", cat}, {"gradients", cat}, {"optimizer", cat}, {"indices", cat}, {"activations", cat},
                        {"dense_equivalent", {{"weights_bytes", 8 << 20}, {"gradients_bytes", 8 << 20},
                                              {"optimizer_bytes", 8 << 20}}}}}};
  std::ofstream(dir + "/summary.json") << s.dump();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(Report, PageHoldsEveryChartAndNothingFromOutside) {
  const std::string dir = temp_dir("page");
  write_run(dir + "/rigl", true, 12);
  write_run(dir + "/dense", false, 12);
  ASSERT_EQ(run_sprout("report " + dir + "/rigl " + dir + "/dense --out " + dir + "/r.html", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  const std::string html = read_text(dir + "/r.html");
  // loss, accuracy, learning rate, memory; density for each run; churn for the sparse one.
  EXPECT_EQ(count(html, "<svg "), 7u);
  EXPECT_EQ(count(html, "<script"), 0u);
  EXPECT_EQ(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(html.find("<td>rigl</td><td>mlp</td><td>rigl</td><td>0.1000</td><td>0.7000</td>"), std::string::npos);
  EXPECT_NE(html.find("0.667x"), std::string::npos);  // parameter side: 4 categories x 4 MiB over 3 x 8 MiB dense
  // Each run's training loss: one polyline vertex per logged step.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("<polyline[^>]*points=\"([^\"]*)\"")));
  EXPECT_EQ(count(m[1].str(), ","), 12u);
  EXPECT_NE(html.find("rigl: 1 lines of metrics.jsonl were not JSON"), std::string::npos);
  auto bad = run_sprout("report " + dir + "/nothing --out " + dir + "/x.html", dir);
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("error: report: "), std::string::npos) << bad.err;
  fs::remove_all(dir);
}

// Keys of unexpected types (a number where a name belongs, a number for a section) are
// left out, not a crash; found by fuzz_interop.
TEST(Report, OddlyTypedKeysAreLeftOut) {
  const std::string dir = temp_dir("odd");
  fs::create_directories(dir + "/run");
  std::ofstream(dir + "/run/metrics.jsonl")
      << R"({"event": "topology", "step": 1, "layer": 5, "density": 0.5, "dropped": "x"})" << "\n"
      << R"({"event": 7, "step": 2, "loss": 1.0, "lr": [1]})" << "\n";
  std::ofstream(dir + "/run/summary.json")
      << R"({"config": {"model": 1, "sparsity": []}, "memory": 3, "layers": {"a": 1}, "time": "x"})";
  ASSERT_EQ(run_sprout("report " + dir + "/run --out " + dir + "/r.html", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  const std::string html = read_text(dir + "/r.html");
  EXPECT_NE(html.find("Memory per category, peak (MiB): each run beside its dense equivalent (lighter): nothing"),
            std::string::npos);
  fs::remove_all(dir);
}

#if SPROUT_WITH_ZLIB
// The RGB(A) pixels of an 8-bit, non-interlaced PNG (what Chromium writes).
std::vector<uint8_t> decode_png(const std::string& bytes, int* width, int* height, int* channels) {
  auto be32 = [&](size_t p) {
    return (uint32_t)(uint8_t)bytes[p] << 24 | (uint32_t)(uint8_t)bytes[p + 1] << 16 |
           (uint32_t)(uint8_t)bytes[p + 2] << 8 | (uint8_t)bytes[p + 3];
  };
  std::string idat;
  for (size_t p = 8; p + 8 <= bytes.size();) {
    const uint32_t len = be32(p);
    const std::string type = bytes.substr(p + 4, 4);
    if (type == "IHDR") {
      *width = (int)be32(p + 8);
      *height = (int)be32(p + 12);
      const int colour_type = (uint8_t)bytes[p + 17];
      *channels = colour_type == 6 ? 4 : colour_type == 2 ? 3 : 0;
      if ((uint8_t)bytes[p + 16] != 8 || *channels == 0 || bytes[p + 20] != 0) return {};
    }
    if (type == "IDAT") idat += bytes.substr(p + 8, len);
    p += 12 + len;
  }
  const size_t stride = (size_t)*width * (size_t)*channels;
  std::vector<uint8_t> raw((stride + 1) * (size_t)*height), px(stride * (size_t)*height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, (const Bytef*)idat.data(), idat.size()) != Z_OK) return {};
  for (int y = 0; y < *height; ++y) {
    const uint8_t filter = raw[(size_t)y * (stride + 1)];
    const uint8_t* in = &raw[(size_t)y * (stride + 1) + 1];
    uint8_t* out = &px[(size_t)y * stride];
    const uint8_t* up = y ? out - stride : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= (size_t)*channels ? out[i - (size_t)*channels] : 0, b = up ? up[i] : 0;
      const int c = up && i >= (size_t)*channels ? up[i - (size_t)*channels] : 0;
      int pred = 0;
      if (filter == 1) pred = a;
      else if (filter == 2) pred = b;
      else if (filter == 3) pred = (a + b) / 2;
      else if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[i] = (uint8_t)(in[i] + pred);
    }
  }
  return px;
}

TEST(Report, ChromiumRendersThePlots) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no chromium on PATH (scripts/setup.sh installs Debian's chromium)";
  const std::string dir = temp_dir("chromium");
  write_run(dir + "/rigl", true, 30);
  write_run(dir + "/dense", false, 30);
  ASSERT_EQ(run_sprout("report " + dir + "/rigl " + dir + "/dense --out " + dir + "/r.html", dir).code, 0);
  const std::string cmd = "cd " + dir + " && timeout 120 chromium --headless --no-sandbox --disable-gpu "
                          "--hide-scrollbars --window-size=1400,1200 --screenshot=" + dir + "/shot.png file://" +
                          dir + "/r.html >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  int w = 0, h = 0, ch = 0;
  const std::vector<uint8_t> px = decode_png(read_text(dir + "/shot.png"), &w, &h, &ch);
  ASSERT_EQ(px.size(), (size_t)w * h * ch) << "screenshot is not an 8-bit RGB(A) PNG";
  ASSERT_EQ(w, 1400);
  // Pixels of the first two series colours (#1f77b4, #d62728): drawn lines and bars.
  auto near = [](const uint8_t* p, int r, int g, int b) {
    return std::abs(p[0] - r) < 12 && std::abs(p[1] - g) < 12 && std::abs(p[2] - b) < 12;
  };
  size_t blue = 0, red = 0;
  for (size_t i = 0; i + 2 < px.size(); i += (size_t)ch) {
    blue += near(&px[i], 0x1f, 0x77, 0xb4);
    red += near(&px[i], 0xd6, 0x27, 0x28);
  }
  EXPECT_GT(blue, 2000u);
  EXPECT_GT(red, 2000u);
  fs::remove_all(dir);
}
#endif

}  // namespace
}  // namespace sprout
