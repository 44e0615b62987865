// `sprout bench allreduce`: what data-parallel training sends per step for a model at
// each density (static ERK sparsity), nonzeros only against dense DDP's full gradients,
// and how long the all-reduce takes among the ranks of the launching mpirun (one
// process: the byte counts alone, the collectives are no-ops). Each timed step is the
// slowest rank's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "apps/bench_model.h"
#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/dist/gradient_sync.h"
#include "engine/sparse/parameter.h"
#include "engine/train/run.h"

namespace sprout::app {

using Json = nlohmann::json;

namespace {

// Gives every parameter a zero gradient of its own length (the nonzeros for sparse ones).
void make_grads(std::vector<nn::ParamRef>& params) {
  for (auto& p : params) {
    Tensor g = Tensor::zeros(p.tensor->shape(), DType::F32, p.tensor->device(), MemCategory::Gradients);
    p.tensor->set_grad(g);
  }
}

// Median milliseconds of `steps` gradient all-reduces of `params`, each the slowest rank's.
double time_allreduce(dist::Communicator& comm, std::vector<nn::ParamRef>& params, int steps) {
  dist::GradientSync sync(comm);
  sync.all_reduce_gradients(params);  // warm-up: buffers, connections
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    double start_line = 0;
    comm.all_reduce(&start_line, 1, dist::ReduceOp::Max);  // every rank starts together
    const auto t0 = std::chrono::steady_clock::now();
    sync.all_reduce_gradients(params);
    cuda_synchronize();
    double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    comm.all_reduce(&t, 1, dist::ReduceOp::Max);
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

Json measure(const StepBenchArgs& a, Device dev, double density, dist::Communicator& comm) {
  BenchModel bm = bench_model(a.model, a.image_size);
  bm.cfg["sparsity"]["method"] = density < 1.0 ? "static" : "dense";
  bm.cfg["sparsity"]["density"] = density;
  train::Run run(bm.cfg, bm.data, 1, dev);
  std::vector<nn::ParamRef> params = run.model->parameters();
  const dist::ReduceBytes bytes = dist::gradient_bytes(params);
  make_grads(params);
  const double nnz_ms = time_allreduce(comm, params, a.steps);
  // Dense DDP: the same layers with full gradients.
  std::vector<Tensor> dense_store;
  dense_store.reserve(params.size());
  std::vector<nn::ParamRef> dense;
  for (const auto& p : params) {
    const int64_t n = p.sparse ? p.sparse->dense_numel() : p.tensor->numel();
    dense_store.push_back(Tensor::zeros({n}, DType::F32, dev, MemCategory::Gradients));
    dense.push_back({p.name, &dense_store.back(), nullptr});
  }
  make_grads(dense);
  const double dense_ms = time_allreduce(comm, dense, a.steps);
  return Json{{"model", a.model}, {"density_target", density}, {"density_actual", run.density()},
              {"ranks", comm.size()}, {"backend", comm.backend()}, {"nnz_bytes_per_step", bytes.gradients},
              {"dense_bytes_per_step", bytes.dense_ddp},
              {"bytes_ratio", (double)bytes.gradients / (double)bytes.dense_ddp},
              {"nnz_allreduce_ms_median", nnz_ms}, {"dense_allreduce_ms_median", dense_ms},
              {"device", dev.is_cuda() ? device_name(dev) : "cpu"}};
}

}  // namespace

int run_allreduce_bench(const StepBenchArgs& a) {
  dist::Communicator& comm = dist::world();
  SPROUT_CHECK(a.steps >= 1, "bench allreduce: --steps must be at least 1, got ", a.steps);
  const Device dev = parse_device(a.device);
  Json rows = Json::array();
  if (comm.is_root())
    std::printf("%-10s %8s %8s %14s %14s %7s %10s %10s\n", "model", "density", "ranks", "nnz bytes", "dense bytes",
                "ratio", "nnz ms", "dense ms");
  for (double d : a.densities) {
    Json r = measure(a, dev, d, comm);
    if (comm.is_root())
      std::printf("%-10s %8.3f %8d %14ld %14ld %7.4f %10.3f %10.3f\n", a.model.c_str(), d, comm.size(),
                  (long)r["nnz_bytes_per_step"].get<int64_t>(), (long)r["dense_bytes_per_step"].get<int64_t>(),
                  r["bytes_ratio"].get<double>(), r["nnz_allreduce_ms_median"].get<double>(),
                  r["dense_allreduce_ms_median"].get<double>());
    rows.push_back(r);
  }
  if (comm.is_root() && !a.json_out.empty()) std::ofstream(a.json_out) << Json{{"allreduce", rows}}.dump(2) << "\n";
  dist::finalize_world();
  return 0;
}

}  // namespace sprout::app
