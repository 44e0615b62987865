// `sprout memory`: builds a model dense and sparse (static sparsity from the flags, or a
// training config's model and method), runs two training steps of each on a random
// batch, and reports what the allocator measured per category. A dense twin too large
// for this machine is not built: its parameter side is computed from its shapes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "apps/bench_model.h"
#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/sparse/parameter.h"
#include "engine/train/run.h"

namespace sprout::app {

using Json = nlohmann::json;

namespace {

// The model to measure: from the flags (static sparsity), or a training config's own.
BenchModel memory_model(const MemoryArgs& a) {
  if (!a.config.empty()) return config_model(a.config);
  BenchModel bm = bench_model(a.model, a.image_size);
  bm.cfg["sparsity"]["method"] = "static";
  bm.cfg["sparsity"]["density"] = a.density;
  bm.cfg["sparsity"]["distribution"] = a.distribution;
  bm.cfg["sparsity"]["format"] = a.format;
  return bm;
}

Json measure(const MemoryArgs& a, bool sparse, Device dev) {
  BenchModel bm = memory_model(a);
  Json cfg = bm.cfg;
  for (const std::string& s : a.sets) io::apply_override(cfg, s);
  cfg["train"]["batch_size"] = a.batch;
  cfg["train"]["seed"] = 0;
  if (!sparse) cfg["sparsity"]["method"] = "dense";

  Allocator::empty_cache();
  MemStats base = Allocator::stats(dev.type);
  Json out;
  {
    train::Run run(cfg, bm.data, 1, dev);
    nn::Module& model = *run.model;
    Batch b = random_batch(bm.data, a.batch, dev, 1);
    Allocator::reset_peaks(dev.type);
    run.step(b, true);
    run.step(b, true);  // a second step: gradients and state exist before it
    cuda_synchronize();
    MemStats s = Allocator::stats(dev.type);
    auto cur = [&](MemCategory c) { return s.cur(c) - base.cur(c); };
    auto pk = [&](MemCategory c) { return s.pk(c) - base.cur(c); };
    int64_t nnz = 0, dense_numel = 0;
    for (auto& p : model.parameters()) {
      nnz += p.sparse ? p.sparse->nnz() : p.tensor->numel();
      dense_numel += p.sparse ? p.sparse->dense_numel() : p.tensor->numel();
    }
    out = Json{{"weights", cur(MemCategory::Weights)}, {"indices", cur(MemCategory::Indices)},
               {"gradients", cur(MemCategory::Gradients)}, {"optimizer", cur(MemCategory::Optimizer)},
               {"activations_peak", pk(MemCategory::Activations)},
               {"workspace_peak", pk(MemCategory::Workspace)}, {"data", cur(MemCategory::Data)},
               {"total_peak", s.total_peak - base.total_current},
               {"parameters", model.num_parameters()}, {"nnz", nnz}, {"density", run.density()},
               {"dense_parameters", dense_numel}};
    out["param_side"] = out["weights"].get<int64_t>() + out["indices"].get<int64_t>() +
                        out["gradients"].get<int64_t>() + out["optimizer"].get<int64_t>();
  }
  return out;
}

// The dense twin's parameter side from its shapes, without allocating it: float32
// weights and gradients, and as many optimizer bytes per weight as the sparse run keeps.
// Activations and workspace are the sparse run's (an MLP's activations do not depend on
// its density), marked as such.
Json analytic_dense(const Json& sparse) {
  const int64_t p = sparse["dense_parameters"].get<int64_t>(), w = 4 * p;
  const double state_per_weight =
      (double)sparse["optimizer"].get<int64_t>() / (double)std::max<int64_t>(1, sparse["weights"].get<int64_t>());
  const int64_t opt = (int64_t)(state_per_weight * (double)w);
  Json d{{"analytic", true}, {"weights", w}, {"indices", 0}, {"gradients", w}, {"optimizer", opt},
         {"activations_peak", sparse["activations_peak"]}, {"workspace_peak", sparse["workspace_peak"]},
         {"data", sparse["data"]}, {"parameters", p}, {"nnz", p}, {"density", 1.0}, {"dense_parameters", p}};
  d["param_side"] = 2 * w + opt;
  d["total_peak"] = 2 * w + opt + sparse["activations_peak"].get<int64_t>() + sparse["workspace_peak"].get<int64_t>();
  return d;
}

// Whether a dense twin of `dense_parameters` would need more than half of this machine's
// memory for weights, gradients and two optimizer states.
bool dense_twin_too_large(int64_t dense_parameters) {
  const double physical = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
  return 16.0 * (double)dense_parameters > 0.5 * physical;
}

}  // namespace

int run_memory(const MemoryArgs& a) {
  SPROUT_CHECK(a.density > 0 && a.density <= 1, "--density must be in (0, 1], got ", a.density);
  SPROUT_CHECK(a.batch > 0, "--batch must be positive, got ", a.batch);
  Device dev = parse_device(a.device);
  Json sparse = measure(a, true, dev);
  const bool analytic = dense_twin_too_large(sparse["dense_parameters"].get<int64_t>());
  Json dense = analytic ? analytic_dense(sparse) : measure(a, false, dev);
  double ratio = (double)sparse["param_side"].get<int64_t>() / (double)dense["param_side"].get<int64_t>();
  double total_ratio = (double)sparse["total_peak"].get<int64_t>() / (double)dense["total_peak"].get<int64_t>();
  const BenchModel bm = memory_model(a);
  const std::string model = bm.cfg["model"]["name"].get<std::string>();
  const std::string method = bm.cfg["sparsity"]["method"].get<std::string>();
  Json r{{"model", model}, {"method", method}, {"density", sparse["density"]}, {"format", bm.cfg["sparsity"]["format"]},
         {"batch", a.batch}, {"device", dev.str()}, {"dense", dense}, {"sparse", sparse},
         {"param_side_ratio", ratio}, {"total_peak_ratio", total_ratio}};
  if (!a.config.empty()) r["config"] = a.config;
  if (!a.sets.empty()) r["sets"] = a.sets;
  if (a.json) {
    std::printf("%s\n", r.dump(2).c_str());
    return 0;
  }
  auto mib = [](const Json& v) { return (double)v.get<int64_t>() / (1024.0 * 1024.0); };
  std::printf("%s, %s, batch %ld, density %.3f (%s), device %s\n", model.c_str(), method.c_str(), (long)a.batch,
              sparse["density"].get<double>(), bm.cfg["sparsity"]["format"].get<std::string>().c_str(),
              dev.str().c_str());
  if (analytic)
    std::printf("dense twin: %ld parameters, not built (its parameter side computed from the shapes; "
                "activations and workspace are the sparse run's)\n", (long)sparse["dense_parameters"].get<int64_t>());
  std::printf("%-18s %12s %12s %8s\n", "MiB", "dense", "sparse", "ratio");
  for (const char* k : {"weights", "indices", "gradients", "optimizer", "activations_peak",
                        "workspace_peak", "param_side", "total_peak"}) {
    double d = mib(dense[k]), s = mib(sparse[k]);
    std::printf("%-18s %12.3f %12.3f %8s\n", k, d, s,
                d > 0 ? std::to_string(s / d).substr(0, 6).c_str() : "-");
  }
  std::printf("%-18s %12.3f %12.3f\n", "activations/image", mib(dense["activations_peak"]) / (double)a.batch,
              mib(sparse["activations_peak"]) / (double)a.batch);
  return 0;
}

}  // namespace sprout::app
