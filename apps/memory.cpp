// `sprout memory`: builds a model dense and sparse, runs one training step of each
// on a random batch, and reports what the allocator measured per category.
#include <cstdio>

#include "apps/commands.h"
#include "apps/run_state.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/nn/init.h"
#include "engine/nn/sparse_parameter.h"
#include "models/models.h"

namespace sprout::app {

using Json = nlohmann::json;

namespace {

Json measure(const MemoryArgs& a, bool sparse, Device dev) {
  BenchModel bm = bench_model(a.model, a.image_size);
  Json cfg = bm.cfg;
  Shape sample = bm.sample;
  int classes = bm.classes;
  cfg["train"]["batch_size"] = a.batch;
  cfg["sparsity"]["method"] = sparse ? "static" : "dense";
  cfg["sparsity"]["density"] = a.density;
  cfg["sparsity"]["distribution"] = a.distribution;
  cfg["sparsity"]["format"] = a.format;

  Allocator::empty_cache();
  MemStats base = Allocator::stats(dev.type);
  Json out;
  {
    nn::init_rng().seed_with(0);
    nn::ModulePtr model;
    {
      MemoryScope ms(MemCategory::Weights);
      model = models::build(cfg["model"], sample, classes);
    }
    RunState run(cfg, model, 1);
    run.build(dev);
    data::Batch b = random_batch(sample, classes, a.batch, dev, 1);
    Allocator::reset_peaks(dev.type);
    run.train_step(b, 0.0, true);
    run.train_step(b, 0.0, true);  // a second step: gradients and state exist before it
    cuda_synchronize();
    MemStats s = Allocator::stats(dev.type);
    auto cur = [&](MemCategory c) { return s.cur(c) - base.cur(c); };
    auto pk = [&](MemCategory c) { return s.pk(c) - base.cur(c); };
    int64_t nnz = 0;
    for (auto& p : model->parameters()) nnz += p.sparse ? p.sparse->nnz() : p.tensor->numel();
    out = Json{{"weights", cur(MemCategory::Weights)}, {"indices", cur(MemCategory::Indices)},
               {"gradients", cur(MemCategory::Gradients)}, {"optimizer", cur(MemCategory::Optimizer)},
               {"activations_peak", pk(MemCategory::Activations)},
               {"workspace_peak", pk(MemCategory::Workspace)}, {"data", cur(MemCategory::Data)},
               {"total_peak", s.total_peak - base.total_current},
               {"parameters", model->num_parameters()}, {"nnz", nnz}, {"density", run.density()}};
    out["param_side"] = out["weights"].get<int64_t>() + out["indices"].get<int64_t>() +
                        out["gradients"].get<int64_t>() + out["optimizer"].get<int64_t>();
  }
  return out;
}

}  // namespace

int run_memory(const MemoryArgs& a) {
  SPROUT_CHECK(a.density > 0 && a.density <= 1, "--density must be in (0, 1], got ", a.density);
  SPROUT_CHECK(a.batch > 0, "--batch must be positive, got ", a.batch);
  Device dev = parse_device(a.device);
  Json dense = measure(a, false, dev);
  Json sparse = measure(a, true, dev);
  double ratio = (double)sparse["param_side"].get<int64_t>() / (double)dense["param_side"].get<int64_t>();
  double total_ratio = (double)sparse["total_peak"].get<int64_t>() / (double)dense["total_peak"].get<int64_t>();
  Json r{{"model", a.model}, {"density", a.density}, {"format", a.format}, {"batch", a.batch},
         {"device", dev.str()}, {"dense", dense}, {"sparse", sparse},
         {"param_side_ratio", ratio}, {"total_peak_ratio", total_ratio}};
  if (a.json) {
    std::printf("%s\n", r.dump(2).c_str());
    return 0;
  }
  auto mib = [](const Json& v) { return (double)v.get<int64_t>() / (1024.0 * 1024.0); };
  std::printf("%s, batch %ld, density %.3f (%s), device %s\n", a.model.c_str(), (long)a.batch,
              a.density, a.format.c_str(), dev.str().c_str());
  std::printf("%-18s %12s %12s %8s\n", "MiB", "dense", "sparse", "ratio");
  for (const char* k : {"weights", "indices", "gradients", "optimizer", "activations_peak",
                        "workspace_peak", "param_side", "total_peak"}) {
    double d = mib(dense[k]), s = mib(sparse[k]);
    std::printf("%-18s %12.3f %12.3f %8s\n", k, d, s,
                d > 0 ? std::to_string(s / d).substr(0, 6).c_str() : "-");
  }
  return 0;
}

}  // namespace sprout::app
