// `sprout bench gemm`: the CPU GEMM paths on the MLP's shapes (batch 128): OpenBLAS's
// own sgemm, the engine's linear op (forward + both gradients, i.e. the three GEMMs plus
// allocation and dispatch), and the built-in fallback GEMM, as GFLOP/s and fractions.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "apps/bench_util.h"
#include "apps/commands.h"
#include "engine/autograd/node.h"
#include "engine/core/rng.h"
#include "engine/core/tensor.h"
#include "engine/ops/gemm.h"
#include "engine/train/run_folder.h"
#include "kernels/cpu/gemm.h"

namespace sprout::app {

int run_gemm_bench(const std::string& json_out, double min_seconds) {
  using Json = nlohmann::json;
  struct LayerShape { int64_t batch, in, out; };
  std::vector<LayerShape> shapes{{128, 784, 1000}, {128, 1000, 1000}, {128, 1000, 10}};
  Rng rng(3);
  auto rand = [&](Shape s) {
    Tensor t = Tensor::empty(s, DType::F32, Device::cpu(), MemCategory::Workspace);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = (float)rng.normal();
    return t;
  };
  Json rows = Json::array();
  std::printf("%-16s %12s %12s %12s %10s %10s\n", "layer", "sgemm GF/s", "linear GF/s",
              "builtin GF/s", "linear/bl", "builtin/bl");
  for (auto s : shapes) {
    Tensor x = rand({s.batch, s.in}), w = rand({s.out, s.in}), dy = rand({s.batch, s.out});
    Tensor y = rand({s.batch, s.out}), dx = rand({s.batch, s.in}), dw = rand({s.out, s.in});
    double flops = 3.0 * 2.0 * (double)(s.batch * s.in * s.out);  // forward + dx + dW
    auto three_gemms = [&](bool builtin) {
      auto g = builtin ? kernels::cpu::gemm_builtin<float> : kernels::cpu::gemm<float>;
      g(false, true, s.batch, s.out, s.in, 1.f, x.data<float>(), s.in, w.data<float>(), s.in, 0.f, y.data<float>(), s.out);
      g(false, false, s.batch, s.in, s.out, 1.f, dy.data<float>(), s.out, w.data<float>(), s.in, 0.f, dx.data<float>(), s.in);
      g(true, false, s.out, s.in, s.batch, 1.f, dy.data<float>(), s.out, x.data<float>(), s.in, 0.f, dw.data<float>(), s.in);
    };
    double t_blas = median_seconds([&] { three_gemms(false); }, min_seconds);
    double t_builtin = median_seconds([&] { three_gemms(true); }, min_seconds);
    Tensor xl = x.detach(), wl = w.detach();
    wl.set_requires_grad(true);
    xl.set_requires_grad(true);
    double t_linear = median_seconds([&] {
      Tensor out = ops::linear(xl, wl, Tensor());
      out.backward(dy);
      wl.set_grad(Tensor());
      xl.set_grad(Tensor());
    }, min_seconds);
    char name[64];
    std::snprintf(name, sizeof name, "%ldx%ld->%ld", (long)s.batch, (long)s.in, (long)s.out);
    std::printf("%-16s %12.1f %12.1f %12.1f %10.3f %10.3f\n", name, flops / t_blas * 1e-9,
                flops / t_linear * 1e-9, flops / t_builtin * 1e-9, t_blas / t_linear, t_blas / t_builtin);
    rows.push_back({{"layer", name}, {"flops", flops}, {"openblas_seconds", t_blas},
                    {"linear_op_seconds", t_linear}, {"builtin_seconds", t_builtin},
                    {"linear_fraction_of_openblas", t_blas / t_linear},
                    {"builtin_fraction_of_openblas", t_blas / t_builtin}});
  }
  if (!kernels::cpu::have_openblas())
    std::printf("note: built without OpenBLAS; the 'sgemm' column is the built-in GEMM\n");
  if (!json_out.empty())
    train::write_file_atomic(
        json_out, Json{{"bench", "gemm"}, {"openblas", kernels::cpu::have_openblas()}, {"rows", rows}}.dump(2) + "\n");
  return 0;
}

}  // namespace sprout::app
