// Both methods through the real `sprout train` binary on a tiny synthetic MLP job:
// the run finishes, EAST ends at its starting (ERK, min_density-clipped) density, and
// polarize removes its closed units and reports them in summary.json.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/io/safetensors.h"
#include "testing.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("sprout_m2_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs `sprout train` on a synthetic 784-feature, 10-class job with hidden [48, 32];
// returns the exit code (stderr kept in dir/stderr.txt).
int train(const std::string& dir, int epochs, const Json& sparsity) {
  Json cfg = {{"model", {{"name", "mlp"}, {"hidden", {48, 32}}}},
              {"data", {{"name", "synthetic"}, {"workers", 1},
                        {"options", {{"shape", {784}}, {"classes", 10}, {"size", 256}}}}},
              {"train", {{"epochs", epochs}, {"batch_size", 32}, {"seed", 3}, {"eval_batch_size", 128},
                         {"log_every", 4}}},
              {"optimizer", {{"name", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"weight_decay", 0.0005}}},
              {"sparsity", sparsity}};
  std::ofstream(dir + "/cfg.json") << cfg.dump(2);
  std::string cmd = std::string(SPROUT_BINARY_DIR) + "/bin/sprout train --config " + dir + "/cfg.json --out " + dir +
                    " --device cpu 2>" + dir + "/stderr.txt >/dev/null";
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The density the run started from: the first epoch line of metrics.jsonl is after
// training, so read the start from stderr's header line.
double start_density(const std::string& dir) {
  std::string err = read_text(dir + "/stderr.txt");
  auto at = err.find("density ");
  return at == std::string::npos ? -1 : std::stod(err.substr(at + 8));
}

TEST(EndToEnd, EastReachesItsDensityOnATinyMlp) {
  std::string dir = temp_dir("east");
  Json sp = {{"method", "east"}, {"density", 0.02}, {"min_density", 0.01}, {"update_every", 4},
             {"dyrelu", true}, {"cyclic", true}, {"cycles", 1}, {"cycle_epochs_fraction", 0.5}};
  ASSERT_EQ(train(dir, 4, sp), 0) << read_text(dir + "/stderr.txt");
  Json s = Json::parse(read_text(dir + "/summary.json"));
  EXPECT_EQ(s["epochs_completed"], 4);
  double d0 = start_density(dir), d = s["density"].get<double>();
  EXPECT_NEAR(d, d0, 1e-3);  // back at the start after the cycle, constant under the base
  EXPECT_NEAR(d, 0.02, 0.01);  // ERK at 0.02, small layers clipped up to min_density
  for (auto& L : s["layers"]) EXPECT_GE(L["density"].get<double>(), 0.01 - 1e-4) << L["name"];
  EXPECT_GE(s["test_accuracy"].get<double>(), 0.0);
  // The cycle raised the density in between.
  double peak = 0;
  std::ifstream m(dir + "/metrics.jsonl");
  for (std::string line; std::getline(m, line);) {
    Json j = Json::parse(line);
    if (j.contains("density") && !j.contains("event")) peak = std::max(peak, j["density"].get<double>());
  }
  EXPECT_GT(peak, 1.5 * d);
  EXPECT_EQ(s["method"]["density_target"].get<double>(), 0.02);
  EXPECT_TRUE(s["method"]["dyrelu"]["dropped"].get<bool>());  // 4 epochs: DyReLU in epoch 0 only
  fs::remove_all(dir);
}

TEST(EndToEnd, PolarizeRemovesClosedUnitsOnATinyMlp) {
  std::string dir = temp_dir("polarize");
  // 80 gated units: the density term's per-unit pull is lambda_s / 80, so a short run
  // needs a strong one.
  Json sp = {{"method", "polarize"}, {"density", 0.5}, {"lambda_pol", 0.05}, {"lambda_s", 200.0}};
  ASSERT_EQ(train(dir, 6, sp), 0) << read_text(dir + "/stderr.txt");
  Json s = Json::parse(read_text(dir + "/summary.json"));
  EXPECT_EQ(s["epochs_completed"], 6);
  ASSERT_TRUE(s.contains("layers"));
  // The model in the summary is the pruned one: no gates, hidden widths = open units.
  int64_t open = 0;
  for (auto& L : s["layers"]) {
    EXPECT_EQ(L["name"].get<std::string>().find("gate"), std::string::npos);
    auto shape = L["shape"].get<std::vector<int64_t>>();
    if (shape[0] != 10) open += shape[0];
  }
  EXPECT_NEAR((double)open / 80.0, 0.5, 0.15);  // the gates landed near the target
  // The method's report: the removal, and parameters that match the layers left.
  ASSERT_TRUE(s.contains("method"));
  const Json& r = s["method"];
  EXPECT_EQ(r["physical_removal"], "done");
  EXPECT_EQ(r["units"]["open"].get<int64_t>(), open);
  EXPECT_EQ(r["parameters"]["after"].get<int64_t>(), s["parameters"]["stored"].get<int64_t>());
  EXPECT_LT(r["parameters"]["after"].get<int64_t>(), r["parameters"]["before"].get<int64_t>());
  EXPECT_LT(r["flops_per_sample"]["after"].get<int64_t>(), r["flops_per_sample"]["before"].get<int64_t>());
  // model.safetensors holds the compacted network (the checkpoint keeps the gated one,
  // to resume from).
  io::SafetensorsFile m = io::load_safetensors(dir + "/model.safetensors");
  int64_t stored = 0;
  for (auto& [name, t] : m.tensors) stored += t.numel();
  EXPECT_EQ(stored, r["parameters"]["after"].get<int64_t>());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sprout
