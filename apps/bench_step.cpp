// `sprout bench step`: median training-step time and peak memory of a model at a
// density (static ERK sparsity; 1.0 = dense layers), on a random batch, with the
// optimizer of the peer baseline (SGD, Nesterov momentum 0.9) for side-by-side runs.
#include <chrono>
#include <cstdio>

#include <algorithm>
#include <sstream>
#include <utility>

#include "apps/bench_model.h"
#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/core/flops.h"
#include "engine/io/config.h"
#include "engine/train/report.h"
#include "engine/train/run.h"
#include "engine/train/run_folder.h"

namespace sprout::app {

using Json = nlohmann::json;

namespace {

// Each sparse row beside the dense one (density 1) of the same run: the measured
// speedup and its ideal, the weight layers' FLOP ratio.
void add_speedups(Json& rows) {
  const Json* dense = nullptr;
  for (const Json& r : rows)
    if (r["density_target"].get<double>() == 1.0) dense = &r;
  if (!dense) return;
  for (Json& r : rows) {
    r["speedup_vs_dense"] = (*dense)["step_ms_median"].get<double>() / r["step_ms_median"].get<double>();
    r["ideal_speedup_flops"] = (*dense)["flops"]["total"].get<double>() / r["flops"]["total"].get<double>();
  }
}

// The timed steps of `a.model` at one density, with `sets` (key=value) over its config:
// one row of the output.
Json measure_density(const StepBenchArgs& a, Device dev, double density, const std::vector<std::string>& sets = {}) {
  BenchModel bm = bench_model(a.model, a.image_size);
  bm.cfg["train"]["batch_size"] = a.batch;
  bm.cfg["optimizer"]["lr"] = 0.1;
  bm.cfg["optimizer"]["nesterov"] = true;
  bm.cfg["optimizer"]["weight_decay"] = 5e-5;
  bm.cfg["schedule"]["name"] = "constant";
  bm.cfg["sparsity"]["method"] = density < 1.0 ? "static" : "dense";
  bm.cfg["sparsity"]["density"] = density;
  for (const std::string& kv : sets) io::apply_override(bm.cfg, kv);
  Allocator::empty_cache();
  MemStats base = Allocator::stats(dev.type);
  Json row;
  {
    train::Run run(bm.cfg, bm.data, 1, dev);
    Batch b = random_batch(bm.data, a.batch, dev, 1);
    for (int i = 0; i < a.warmup; ++i) run.step(b, false);
    cuda_synchronize();
    Allocator::reset_peaks(dev.type);
    int64_t mallocs_before = Allocator::stats(dev.type).device_mallocs;
    std::vector<double> ms;
    const FlopCount flops_before = flops_counted();
    for (int i = 0; i < a.steps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      run.step(b, false);
      cuda_synchronize();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const FlopCount flops = flops_counted() - flops_before;
    std::sort(ms.begin(), ms.end());
    MemStats s = Allocator::stats(dev.type);
    double med = ms[ms.size() / 2];
    row = {{"model", a.model}, {"batch", a.batch}, {"density_target", density},
           {"density_actual", run.density()}, {"step_ms_median", med}, {"step_ms_min", ms.front()},
           {"images_per_s", (double)a.batch / (med / 1000.0)},
           {"peak_bytes", s.total_peak - base.total_current},
           {"param_bytes", s.cur(MemCategory::Weights) - base.cur(MemCategory::Weights)},
           {"index_bytes", s.cur(MemCategory::Indices) - base.cur(MemCategory::Indices)},
           {"grad_bytes", s.cur(MemCategory::Gradients) - base.cur(MemCategory::Gradients)},
           {"optimizer_bytes", s.cur(MemCategory::Optimizer) - base.cur(MemCategory::Optimizer)},
           {"activations_peak_bytes", s.pk(MemCategory::Activations) - base.cur(MemCategory::Activations)},
           {"workspace_peak_bytes", s.pk(MemCategory::Workspace) - base.cur(MemCategory::Workspace)},
           {"device_mallocs_during_timed_steps", s.device_mallocs - mallocs_before},
           {"flops", train::flops_report(flops, a.steps)},
           {"flop_ratio", flops.total_done() / flops.total_dense()},
           {"device", dev.is_cuda() ? device_name(dev) : "cpu"}, {"step_ms", ms}};
  }
  return row;
}

// A variant "label:key=value,key=value" split into its label and its settings.
std::pair<std::string, std::vector<std::string>> parse_variant(const std::string& v) {
  const size_t colon = v.find(':');
  std::vector<std::string> sets;
  if (colon != std::string::npos) {
    std::stringstream ss(v.substr(colon + 1));
    for (std::string kv; std::getline(ss, kv, ',');)
      if (!kv.empty()) sets.push_back(kv);
  }
  return {v.substr(0, colon), sets};
}

// Every variant timed once per round, in turn, so that a shared machine's load falls on
// all of them alike; each variant's median over all its steps, and its ratio to the first.
int run_variants(const StepBenchArgs& a, Device dev) {
  SPROUT_CHECK(a.densities.size() == 1, "bench step --variant: give one density, got ", a.densities.size());
  SPROUT_CHECK(a.rounds >= 1, "bench step --rounds must be at least 1, got ", a.rounds);
  std::vector<std::pair<std::string, std::vector<std::string>>> vs;
  for (const std::string& v : a.variants) vs.push_back(parse_variant(v));
  std::vector<std::vector<double>> ms(vs.size());
  Json rows = Json::array();
  for (int r = 0; r < a.rounds; ++r)
    for (size_t i = 0; i < vs.size(); ++i) {
      Json row = measure_density(a, dev, a.densities[0], vs[i].second);
      row["variant"] = vs[i].first;
      row["round"] = r;
      std::printf("%s\n", row.dump().c_str());
      std::fflush(stdout);
      for (double t : row["step_ms"]) ms[i].push_back(t);
      rows.push_back(row);
    }
  Json summary = Json::array();
  double first = 0;
  for (size_t i = 0; i < vs.size(); ++i) {
    std::sort(ms[i].begin(), ms[i].end());
    const double med = ms[i][ms[i].size() / 2];
    if (i == 0) first = med;
    int64_t act = 0;
    for (const Json& row : rows)
      if (row["variant"] == vs[i].first) act = std::max(act, row["activations_peak_bytes"].get<int64_t>());
    summary.push_back({{"variant", vs[i].first}, {"sets", vs[i].second}, {"step_ms_median", med},
                       {"time_ratio", med / first}, {"activations_peak_bytes", act}});
    std::printf("%-12s median step %.1f ms over %zu steps, %.3fx the first; activations peak %.1f MiB\n",
                vs[i].first.c_str(), med, ms[i].size(), med / first, (double)act / (1024.0 * 1024.0));
  }
  if (!a.json_out.empty())
    train::write_file_atomic(a.json_out, Json{{"bench", "step"}, {"rounds", a.rounds}, {"variants", summary},
                                              {"rows", rows}}.dump(2) + "\n");
  return 0;
}

}  // namespace

int run_step_bench(const StepBenchArgs& a) {
  Device dev = parse_device(a.device);
  if (!a.variants.empty()) return run_variants(a, dev);
  Json rows = Json::array();
  for (double density : a.densities) {
    SPROUT_CHECK(density > 0 && density <= 1, "density ", density, " not in (0, 1]");
    const Json row = measure_density(a, dev, density);
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
    rows.push_back(row);
  }
  add_speedups(rows);
  for (const Json& r : rows)
    if (r.contains("speedup_vs_dense") && r["density_target"].get<double>() < 1.0)
      std::printf("density %.3f: %.2fx faster than dense, ideal %.2fx (weight-layer FLOPs %.3g of %.3g per step)\n",
                  r["density_target"].get<double>(), r["speedup_vs_dense"].get<double>(),
                  r["ideal_speedup_flops"].get<double>(), r["flops"]["total"].get<double>(),
                  r["flops"]["dense_total"].get<double>());
  if (!a.json_out.empty()) train::write_file_atomic(a.json_out, Json{{"bench", "step"}, {"rows", rows}}.dump(2) + "\n");
  return 0;
}

}  // namespace sprout::app
