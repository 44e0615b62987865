// `sprout bench spmm|sddmm|sparse_linear|topology`: every registered sparse kernel against
// the dense library call (OpenBLAS / cuBLAS) on the MLP's layers and ResNet-50 im2col
// GEMMs at densities 0.5 .. 0.01, each validated against the dense result before it is
// timed (median of repeats): GFLOP/s on useful flops (2 nnz n), GB/s on a minimal
// traffic model, fractions of the measured roofs (sgemm peak, copy bandwidth), speedup,
// JSON. `topology` times RigL's update of one layer beside its dense-gradient GEMM.
// `--pattern runs` gives every CSR row its entries as one contiguous run of columns (same
// nnz, random start): the best locality the kernels' dataflow can see, so the ratio of
// the two patterns' times says how much the random structure costs.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.h"
#include "engine/autograd/node.h"
#include "engine/nn/layers.h"
#include "engine/ops/gemm.h"
#include "engine/ops/deferred.h"
#include "engine/ops/sddmm.h"
#include "engine/ops/spmm.h"
#include "engine/ops/topology.h"
#include "engine/optim/optimizer.h"
#include "engine/sparse/parameter.h"
#include "engine/train/run_folder.h"
#include "kernels/sparse_registry.h"

namespace {

using namespace sprout;
using json = nlohmann::json;

struct Shape3 {
  std::string name;
  int64_t m, k, n;  // W [m, k], dense operand [k, n]
};

// The MLP's layers at batch 128, and ResNet-50 convolutions as im2col GEMMs at
// batch 1 and 8 (n = batch * Hout * Wout).
std::vector<Shape3> bench_shapes() {
  std::vector<Shape3> s = {{"mlp 784->1000 b128", 1000, 784, 128},
                           {"mlp 1000->1000 b128", 1000, 1000, 128},
                           {"mlp 1000->10 b128", 10, 1000, 128}};
  for (int64_t b : {1, 8}) {
    std::string tag = " b" + std::to_string(b);
    s.push_back({"r50 conv2_x 3x3 64x576" + tag, 64, 576, 3136 * b});
    s.push_back({"r50 conv5_x 3x3 512x4608" + tag, 512, 4608, 49 * b});
    s.push_back({"r50 conv5_x 1x1 2048x512" + tag, 2048, 512, 49 * b});
  }
  return s;
}

const std::vector<double> kDensities = {0.5, 0.2, 0.1, 0.05, 0.01};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median seconds of `f` over repeats filling at least min_seconds (3..1000 runs),
// after one warm-up run.
double time_median(const std::function<void()>& f, double min_seconds, Device dev) {
  auto sync = [&] { if (dev.is_cuda()) cuda_synchronize(); };
  f();
  sync();
  std::vector<double> t;
  const double start = now();
  while (t.size() < 3 || (now() - start < min_seconds && t.size() < 1000)) {
    const double t0 = now();
    f();
    sync();
    t.push_back(now() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// OpenBLAS's worker threads spin for a while after each call and would steal the cores
// the sparse kernels' OpenMP threads run on: let them fall asleep before timing.
void settle(Device dev) {
  if (dev.is_cpu()) std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

Tensor random_tensor(const sprout::Shape& s, uint64_t seed, Device dev) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s, DType::F32, Device::cpu(), MemCategory::Data);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = (float)rng.uniform(-1.0, 1.0);
  return dev.is_cpu() ? t : t.to(dev, MemCategory::Data);
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector<float>(), y = b.to_vector<float>();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num = std::max(num, (double)std::fabs(x[i] - y[i]));
    den = std::max(den, (double)std::fabs(y[i]));
  }
  return den > 0 ? num / den : num;
}

struct Roofs {
  double gflops = 0, gbps = 0;
};

// Measured roofs: sgemm on a large square product, and a large device-local copy
// (bytes read + written).
Roofs measure_roofs(Device dev, double min_seconds) {
  Roofs r;
  const int64_t n = dev.is_cuda() ? 8192 : 2048;
  Tensor a = random_tensor({n, n}, 1, dev), b = random_tensor({n, n}, 2, dev);
  Tensor c = Tensor::empty({n, n}, DType::F32, dev, MemCategory::Workspace);
  double t = time_median([&] { ops::gemm_into(false, false, a, b, c); }, min_seconds, dev);
  r.gflops = 2.0 * (double)n * n * n / t * 1e-9;
  const int64_t words = dev.is_cuda() ? (int64_t)1 << 28 : (int64_t)1 << 26;
  Tensor src = Tensor::zeros({words}, DType::F32, dev, MemCategory::Workspace);
  Tensor dst = Tensor::empty({words}, DType::F32, dev, MemCategory::Workspace);
  t = time_median([&] { dst.copy_from(src); }, min_seconds, dev);
  r.gbps = 2.0 * (double)words * 4 / t * 1e-9;
  return r;
}

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "cpu";
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

// Which positions a benchmark weight stores: "random" (uniform) or "runs" (CSR only).
std::string g_pattern = "random";

// Each row's round(density k) entries as one run of columns from a random start.
sparse::CsrMatrix runs_structure(int64_t m, int64_t k, double density, Rng& rng) {
  const int64_t len = std::max<int64_t>(1, std::min<int64_t>(k, std::llround(density * (double)k)));
  std::vector<float> mask((size_t)(m * k), 0.f), vals((size_t)(m * k), 0.f);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t start = std::min(k - len, (int64_t)(rng.uniform() * (double)(k - len + 1)));
    for (int64_t c = start; c < start + len; ++c) {
      mask[(size_t)(r * k + c)] = 1.f;
      vals[(size_t)(r * k + c)] = (float)rng.uniform(-1.0, 1.0);
    }
  }
  return sparse::CsrMatrix::from_dense(Tensor::from_vector<float>(vals, {m, k}),
                                       Tensor::from_vector<float>(mask, {m, k}));
}

// A structure of the given density as a parameter on dev (blocks for BSR).
sparse::SparseParameter make_weight(int64_t m, int64_t k, double density, int block, Device dev, uint64_t seed) {
  Rng rng(seed);
  sparse::SparseParameter p;
  if (block == 1 && g_pattern == "runs") {
    p = sparse::make_parameter(runs_structure(m, k, density, rng));
  } else if (block == 1) {
    p = sparse::make_parameter(sparse::CsrMatrix::random(m, k, std::llround(density * (double)(m * k)), rng));
  } else {
    const int64_t grid = ((m + block - 1) / block) * ((k + block - 1) / block);
    p = sparse::make_parameter(
        sparse::BsrMatrix::random(m, k, block, std::max<int64_t>(1, std::llround(density * (double)grid)), rng));
  }
  p.to(dev);
  return p;
}

Tensor dense_of(const sparse::SparseParameter& p) {
  Tensor d = p.block == 1 ? sparse::csr_view(p).to_dense() : sparse::bsr_view(p).to_dense();
  return d;
}

// dense's values at w's stored positions, in w's value order (0 in block overhangs).
Tensor at_entries(const sparse::SparseParameter& w, const Tensor& dense) {
  auto d = dense.to_vector<float>();
  auto rp = w.row_ptr.to_vector<int32_t>(), ci = w.col_idx.to_vector<int32_t>();
  const int64_t b = w.block, bb = b * b;
  std::vector<float> out((size_t)w.values.numel(), 0.f);
  for (int64_t R = 0; R + 1 < (int64_t)rp.size(); ++R)
    for (int64_t e = rp[(size_t)R]; e < rp[(size_t)R + 1]; ++e)
      for (int64_t i = 0; i < b; ++i)
        for (int64_t j = 0; j < b; ++j) {
          const int64_t r = R * b + i, c = (int64_t)ci[(size_t)e] * b + j;
          if (r < w.rows && c < w.cols) out[(size_t)(e * bb + i * b + j)] = d[(size_t)(r * w.cols + c)];
        }
  return Tensor::from_vector<float>(out, {(int64_t)out.size()});
}

struct Row {
  json j;
  void print() const {
    std::printf("%-34s %-16s %5.2f %9.3f %9.3f %8.1f %7.1f %6.1f%% %6.1f%% %7.2fx\n", j["shape"].get<std::string>().c_str(),
                j["kernel"].get<std::string>().c_str(), j["density"].get<double>(), j["sparse_ms"].get<double>(),
                j["dense_ms"].get<double>(), j["gflops"].get<double>(), j["gbps"].get<double>(),
                100 * j["flops_fraction"].get<double>(), 100 * j["bandwidth_fraction"].get<double>(),
                j["speedup"].get<double>());
  }
};

void header(const char* what) {
  std::printf("\n%s\n%-34s %-16s %5s %9s %9s %8s %7s %7s %7s %8s\n", what, "shape", "kernel", "dens", "sparse ms",
              "dense ms", "GFLOP/s", "GB/s", "%peak", "%bw", "speedup");
}

// Runs spmm or sddmm over every shape, density and registered kernel of the device.
void bench_products(const std::string& which, Device dev, const Roofs& roofs, double min_seconds, json& out) {
  const bool spmm = which == "spmm";
  header(spmm ? "SpMM: C = W B (W sparse [m, k], B [k, n])" : "SDDMM: dW = X Y^T at W's entries (X [m, n], Y [k, n])");
  const auto kd = dev.is_cuda() ? kernels::KernelDevice::Cuda : kernels::KernelDevice::Cpu;
  for (const Shape3& s : bench_shapes()) {
    Tensor b = random_tensor({s.k, s.n}, 3, dev), x = random_tensor({s.m, s.n}, 4, dev);
    Tensor dense_out = Tensor::empty({s.m, spmm ? s.n : s.k}, DType::F32, dev, MemCategory::Workspace);
    Tensor wd = random_tensor({s.m, s.k}, 5, dev);
    const double dense_s = spmm ? time_median([&] { ops::gemm_into(false, false, wd, b, dense_out); }, min_seconds, dev)
                                : time_median([&] { ops::gemm_into(false, true, x, b, dense_out); }, min_seconds, dev);
    for (double d : kDensities) {
      for (const kernels::SparseKernel& k : kernels::sparse_kernels()) {
        if (k.device != kd) continue;
        const int block = k.format == kernels::SparseFormat::Bsr ? 16 : 1;
        sparse::SparseParameter w = make_weight(s.m, s.k, d, block, dev, 6);
        Tensor wdense = dense_of(w);
        const int64_t nnz = w.values.numel();
        // Validate against the dense library call first.
        double err;
        Tensor c;
        std::function<void()> run;
        if (spmm) {
          c = Tensor::empty({s.m, s.n}, DType::F32, dev, MemCategory::Workspace);
          run = [&] { ops::spmm_into(w, w.values, false, b, c, false, &k); };
          run();
          Tensor ref = Tensor::empty({s.m, s.n}, DType::F32, dev, MemCategory::Workspace);
          ops::gemm_into(false, false, wdense, b, ref);
          err = max_rel_diff(c, ref);
        } else {
          c = Tensor::empty({nnz}, DType::F32, dev, MemCategory::Workspace);
          run = [&] { ops::sddmm_into(w, x, b, c, false, &k); };
          run();
          Tensor ref = Tensor::empty({s.m, s.k}, DType::F32, dev, MemCategory::Workspace);
          ops::gemm_into(false, true, x, b, ref);
          err = max_rel_diff(c, at_entries(w, ref));
        }
        if (err > 1e-4) {
          std::printf("%-34s %-16s %5.2f  VALIDATION FAILED (rel err %.2e)\n", s.name.c_str(), k.name.c_str(), d, err);
          out["failures"].push_back({{"shape", s.name}, {"kernel", k.name}, {"density", d}, {"rel_error", err}});
          continue;
        }
        settle(dev);
        const double t = time_median(run, min_seconds, dev);
        const double flops = 2.0 * (double)nnz * (double)s.n;
        const double idx_bytes = (double)w.col_idx.numel() * 4 + (double)w.row_ptr.numel() * 4;
        // Minimal traffic: the structure and values once, each dense operand once.
        const double bytes = spmm ? idx_bytes + (double)nnz * 4 + (double)(s.k * s.n + s.m * s.n) * 4
                                  : idx_bytes + (double)nnz * 4 + (double)(s.m * s.n + s.k * s.n) * 4;
        Row row;
        row.j = {{"op", which}, {"shape", s.name}, {"m", s.m}, {"k", s.k}, {"n", s.n}, {"density", d},
                 {"kernel", k.name}, {"block", block}, {"nnz", nnz}, {"sparse_ms", t * 1e3},
                 {"dense_ms", dense_s * 1e3}, {"gflops", flops / t * 1e-9}, {"gbps", bytes / t * 1e-9},
                 {"flops_fraction", flops / t * 1e-9 / roofs.gflops}, {"bandwidth_fraction", bytes / t * 1e-9 / roofs.gbps},
                 {"speedup", dense_s / t}, {"validation_rel_error", err}};
        row.print();
        out["results"].push_back(row.j);
      }
    }
  }
}

// The dense step's time two ways: the engine's Linear, and the faster of that and bare
// library calls, which is the baseline the sparse step is compared with.
struct DenseLinearTimes {
  double engine_s, raw_s, best_s;
};

DenseLinearTimes time_dense_linear(const Shape3& s, Tensor& x, const Tensor& gy, Device dev, double min_seconds) {
  const int64_t batch = s.n;
  nn::Linear dense(s.k, s.m);
  dense.to(dev);
  optim::Sgd dopt(dense.parameters(), optim::SgdOptions{0.9, 0.0, false});
  auto dense_step = [&] {
    MemoryScope ms(MemCategory::Activations);
    dopt.zero_grad();
    x.set_grad(Tensor());
    Tensor y = dense.forward(x);
    y.backward(gy);
    dopt.step(0.01);
  };
  const double dense_engine_s = time_median(dense_step, min_seconds, dev);
  // The same step as bare library calls into preallocated buffers, the three GEMMs and
  // the fused SGD kernel timed apart (OpenBLAS's threads and OpenMP's spinning ones
  // slow each other down when interleaved on few cores): the faster of the two
  // totals is the baseline.
  Tensor w = dense.weight.detach(), wgrad = Tensor::empty(w.shape(), DType::F32, dev, MemCategory::Gradients);
  Tensor y = Tensor::empty({batch, s.m}, DType::F32, dev), dx = Tensor::empty({batch, s.k}, DType::F32, dev);
  w.set_requires_grad(true);
  w.set_grad(wgrad);
  optim::Sgd ropt({{"weight", &w, nullptr}}, optim::SgdOptions{0.9, 0.0, false});
  const double dense_raw_s = time_median([&] {
    ops::gemm_into(false, true, x, w, y);
    ops::gemm_into(false, false, gy, w, dx);
    ops::gemm_into(true, false, gy, x, wgrad);
  }, min_seconds, dev) + time_median([&] { ropt.step(0.01); }, min_seconds, dev);
  return {dense_engine_s, dense_raw_s, std::min(dense_engine_s, dense_raw_s)};
}

// One kernel at one density: the forward validated against the dense layer with the
// same weights, then the whole training step timed.
Row bench_sparse_step(const Shape3& s, const kernels::SparseKernel& k, double d, Tensor& x, const Tensor& gy,
                      const DenseLinearTimes& dense, Device dev, const Roofs& roofs, double min_seconds) {
  const int64_t batch = s.n;
  const int block = k.format == kernels::SparseFormat::Bsr ? 16 : 1;
  kernels::select_sparse_kernel(k.name);
  sparse::SparseParameter w = make_weight(s.m, s.k, d, block, dev, 9);
  Tensor bias = random_tensor({s.m}, 10, dev);
  bias.set_requires_grad(true);
  std::vector<nn::ParamRef> refs{{"weight", &w.values, &w}, {"bias", &bias, nullptr}};
  optim::Sgd sopt(refs, optim::SgdOptions{0.9, 0.0, false});
  double err;
  {
    autograd::NoGradGuard ng;
    Tensor ys = ops::sparse_linear(x, w, bias), yd = ops::linear(x, dense_of(w), bias);
    err = max_rel_diff(ys, yd);
  }
  auto sparse_step = [&] {
    MemoryScope ms(MemCategory::Activations);
    sopt.zero_grad();
    x.set_grad(Tensor());
    Tensor y = ops::sparse_linear(x, w, bias);
    y.backward(gy);
    sopt.step(0.01);
  };
  settle(dev);
  const double t = time_median(sparse_step, min_seconds, dev);
  const int64_t nnz = w.values.numel();
  const double flops = 3 * 2.0 * (double)nnz * (double)batch;
  const double bytes = (double)nnz * 4 * 6 + (double)w.col_idx.numel() * 4 * 2 + (double)(batch * (s.k + s.m)) * 4 * 4;
  const double dense_s = dense.best_s;
  Row row;
  row.j = {{"op", "sparse_linear_step"}, {"shape", s.name}, {"m", s.m}, {"k", s.k}, {"n", batch},
           {"density", d}, {"kernel", k.name}, {"block", block}, {"nnz", nnz}, {"sparse_ms", t * 1e3},
           {"dense_ms", dense_s * 1e3}, {"gflops", flops / t * 1e-9}, {"gbps", bytes / t * 1e-9},
           {"flops_fraction", flops / t * 1e-9 / roofs.gflops}, {"bandwidth_fraction", bytes / t * 1e-9 / roofs.gbps},
           {"speedup", dense_s / t}, {"validation_rel_error", err},
           {"dense_engine_ms", dense.engine_s * 1e3}, {"dense_raw_ms", dense.raw_s * 1e3}};
  return row;
}

// One training step of a fully connected layer: forward, input gradient, weight
// gradient, SGD (momentum 0.9) update; sparse (every kernel) against dense.
void bench_linear(Device dev, const Roofs& roofs, double min_seconds, json& out) {
  header("sparse_linear training step: forward + dX + dW (SDDMM) + SGD, vs dense Linear\n"
         "(dense: the faster of the engine's Linear step and bare GEMMs + SGD kernel)");
  const auto kd = dev.is_cuda() ? kernels::KernelDevice::Cuda : kernels::KernelDevice::Cpu;
  for (int i = 0; i < 3; ++i) {
    const Shape3 s = bench_shapes()[(size_t)i];
    Tensor x = random_tensor({s.n, s.k}, 7, dev), gy = random_tensor({s.n, s.m}, 8, dev);
    x.set_requires_grad(true);
    const DenseLinearTimes dense = time_dense_linear(s, x, gy, dev, min_seconds);
    for (double d : kDensities) {
      for (const kernels::SparseKernel& k : kernels::sparse_kernels()) {
        if (k.device != kd) continue;
        Row row = bench_sparse_step(s, k, d, x, gy, dense, dev, roofs, min_seconds);
        row.print();
        out["results"].push_back(row.j);
      }
    }
  }
  kernels::reset_sparse_kernel_selection();
}

// RigL's update of one layer, on the layer's device: the decision (noisy magnitude
// top-k, growth by dense |g| among the open positions) and the edit (merge, gather of
// values and one optimizer-state tensor), beside the dense-gradient GEMM at batch 128
// that an update step needs anyway. Drop fraction 0.3; the weight stays at its nnz.
void bench_topology(Device dev, double min_seconds, json& out) {
  std::printf("\nRigL update of one layer: decision + edit vs the dense-gradient GEMM (batch 128)\n"
              "%-26s %5s %9s %9s %9s %8s\n", "shape", "dens", "decide ms", "edit ms", "dgrad ms", "ratio");
  struct Layer { std::string name; int64_t m, k; };
  for (const Layer& s : {Layer{"mlp 1000x1000", 1000, 1000}, Layer{"r50 conv5_x 3x3 512x4608", 512, 4608},
                         Layer{"r50 conv5_x 1x1 2048x512", 2048, 512}}) {
    Tensor x = random_tensor({128, s.k}, 21, dev), dy = random_tensor({128, s.m}, 22, dev);
    for (double d : kDensities) {
      sparse::SparseParameter w = make_weight(s.m, s.k, d, 1, dev, 23);
      Tensor state = Tensor::zeros(w.values.shape(), DType::F32, dev, MemCategory::Optimizer);
      const int64_t nnz = w.col_idx.numel(), k = (int64_t)std::floor(0.3 * (double)nnz);
      uint64_t seed = 1;
      Tensor g;
      auto dense_grad = [&] { g = ops::dense_weight_grad(x, dy); };
      ops::TopologyEdit e;
      auto decide = [&] {
        e.keep = ops::magnitude_topk_mask(w, nnz - k, true, seed++);
        e.grow = ops::topk_empty_positions(w, g, k, e.keep, nnz - k, seed++);
        e.revive = true;
        e.new_nnz_blocks = nnz;
      };
      // The edit builds new tensors and leaves its inputs alone, so one decision applies
      // again and again to a shallow copy of the layer.
      auto edit = [&] {
        sparse::SparseParameter c = w;
        Tensor st = state;
        ops::edit_topology(c, {&st}, e);
      };
      settle(dev);
      const double t_grad = time_median(dense_grad, min_seconds, dev);
      const double t_decide = time_median(decide, min_seconds, dev);
      const double t_edit = time_median(edit, min_seconds, dev);
      ops::check_deferred();
      sparse::SparseParameter c = w;
      Tensor st = state;
      SPROUT_CHECK(ops::edit_topology(c, {&st}, e) == nnz, "bench topology: the edit changed nnz");
      sparse::validate(c);
      const double ratio = (t_decide + t_edit) / t_grad;
      std::printf("%-26s %5.2f %9.3f %9.3f %9.3f %7.2fx\n", s.name.c_str(), d, t_decide * 1e3, t_edit * 1e3,
                  t_grad * 1e3, ratio);
      out["results"].push_back({{"op", "rigl_update"}, {"shape", s.name}, {"m", s.m}, {"k", s.k}, {"density", d},
                                {"nnz", nnz}, {"drop_grow", k}, {"decide_ms", t_decide * 1e3},
                                {"edit_ms", t_edit * 1e3}, {"dense_grad_ms", t_grad * 1e3},
                                {"update_over_dense_grad", ratio}});
    }
  }
}

}  // namespace

int run_sparse_bench(const std::string& which, const std::string& device, const std::string& json_out,
                     double min_seconds, const std::string& pattern) {
  using namespace sprout;
  SPROUT_CHECK(which == "spmm" || which == "sddmm" || which == "sparse_linear" || which == "topology" ||
                   which == "all",
               "bench: unknown benchmark '", which, "' (expected spmm, sddmm, sparse_linear, topology or all)");
  SPROUT_CHECK(pattern == "random" || pattern == "runs", "bench: unknown --pattern '", pattern,
               "' (expected random or runs)");
  g_pattern = pattern;
  Device dev = parse_device(device);
  MemoryScope ms(MemCategory::Workspace);
  Roofs roofs = measure_roofs(dev, min_seconds);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  const std::string name = dev.is_cuda() ? device_name(dev) : cpu_name();
  std::printf("device: %s (%d threads)  sgemm peak %.1f GFLOP/s  copy bandwidth %.1f GB/s  load %.1f  pattern %s\n",
              name.c_str(), dev.is_cuda() ? 0 : omp_get_max_threads(), roofs.gflops, roofs.gbps, load[0],
              pattern.c_str());
  json out = {{"benchmark", which}, {"device", name}, {"device_type", dev.is_cuda() ? "cuda" : "cpu"},
              {"threads", dev.is_cuda() ? 0 : omp_get_max_threads()}, {"date", today()},
              {"command", "sprout bench " + which + " --device " + device + " --pattern " + pattern},
              {"pattern", pattern},
              {"min_seconds", min_seconds}, {"load_average_1min", load[0]}, {"peak_sgemm_gflops", roofs.gflops}, {"copy_gbps", roofs.gbps},
              {"results", json::array()}, {"failures", json::array()}};
  if (which == "spmm" || which == "all") bench_products("spmm", dev, roofs, min_seconds, out);
  if (which == "sddmm" || which == "all") bench_products("sddmm", dev, roofs, min_seconds, out);
  if (which == "sparse_linear" || which == "all") bench_linear(dev, roofs, min_seconds, out);
  if (which == "topology" || which == "all") bench_topology(dev, min_seconds, out);
  if (!json_out.empty()) {
    train::write_file_atomic(json_out, out.dump(2) + "\n");
    std::printf("\nwrote %s\n", json_out.c_str());
  }
  return out["failures"].empty() ? 0 : 1;
}
