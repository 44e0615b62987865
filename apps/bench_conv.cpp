// `sprout bench conv`: every distinct convolution of ResNet-50 at 224x224, one layer at a
// time: the dense convolution (ops::conv2d) beside the sparse one (ops::sparse_conv2d) at
// each density, by the path the engine takes (the direct SpMM for stride-1 1x1 layers,
// on the CPU the unfolding-free product for the others) and, where that differs, by
// im2col + SpMM; forward and backward (input and weight gradients; the stem has no input
// gradient, as in training) timed apart, each speedup beside its ideal (the FLOP ratio,
// about 1 / density).
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>

#include "apps/bench_util.h"
#include "apps/commands.h"
#include "engine/autograd/node.h"
#include "engine/core/device.h"
#include "engine/core/rng.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/init.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/conv.h"
#include "engine/ops/sparse_conv.h"
#include <nlohmann/json.hpp>

namespace sprout::app {

namespace {

using Json = nlohmann::json;

struct ConvShape {
  const char* name;
  int64_t cin, cout, k, stride, side;  // side: input height = width
};

// ResNet-50's convolutions, one of each shape (torchvision's stride on the 3x3).
const std::vector<ConvShape>& resnet50_convs() {
  static const std::vector<ConvShape> s = {
      {"conv1 7x7/2 3-64 @224", 3, 64, 7, 2, 224},
      {"l1 1x1 64-64 @56", 64, 64, 1, 1, 56},       {"l1 3x3 64-64 @56", 64, 64, 3, 1, 56},
      {"l1 1x1 64-256 @56", 64, 256, 1, 1, 56},     {"l1 1x1 256-64 @56", 256, 64, 1, 1, 56},
      {"l2 1x1 256-128 @56", 256, 128, 1, 1, 56},   {"l2 3x3/2 128-128 @56", 128, 128, 3, 2, 56},
      {"l2 ds 1x1/2 256-512 @56", 256, 512, 1, 2, 56}, {"l2 3x3 128-128 @28", 128, 128, 3, 1, 28},
      {"l2 1x1 128-512 @28", 128, 512, 1, 1, 28},   {"l2 1x1 512-128 @28", 512, 128, 1, 1, 28},
      {"l3 3x3 256-256 @14", 256, 256, 3, 1, 14},   {"l3 1x1 256-1024 @14", 256, 1024, 1, 1, 14},
      {"l3 1x1 1024-256 @14", 1024, 256, 1, 1, 14}, {"l4 3x3 512-512 @7", 512, 512, 3, 1, 7},
      {"l4 1x1 512-2048 @7", 512, 2048, 1, 1, 7},   {"l4 1x1 2048-512 @7", 2048, 512, 1, 1, 7},
  };
  return s;
}

struct PassTimes {
  double forward = 0, backward = 0;
};

// Forward and backward (weight gradient, and the input's when `input_grad`) of
// y = conv(x), timed apart.
PassTimes time_passes(const std::function<Tensor(const Tensor&)>& conv, const Tensor& x0, bool input_grad,
                      double min_seconds, Device dev) {
  Tensor x = x0.detach();
  x.set_requires_grad(input_grad);
  Tensor y, gy;
  PassTimes t;
  auto sync = [&] { if (dev.is_cuda()) cuda_synchronize(); };
  t.forward = median_seconds([&] { y = conv(x); }, min_seconds, sync);
  gy = Tensor::full(y.shape(), 1.0, y.dtype(), y.device());
  t.backward = median_seconds([&] { conv(x).backward(gy); }, min_seconds, sync) - t.forward;
  return t;
}

// One density: the engine's path, and im2col + SpMM where the engine's path differs.
Json bench_sparse(const ConvShape& s, nn::SparseConv2d& sp, const Tensor& x, const PassTimes& d, bool input_grad,
                  double min_seconds, Device dev) {
  auto conv = [&](const Tensor& in) { return sp.forward(in); };
  const PassTimes t = time_passes(conv, x, input_grad, min_seconds, dev);
  const double ideal = 1.0 / sp.weight.density();
  std::printf("%-26s d=%.2f   fwd %8.2f ms  bwd %8.2f ms  speedup fwd %5.2fx bwd %5.2fx (ideal %5.1fx)\n", "",
              sp.weight.density(), t.forward * 1e3, t.backward * 1e3, d.forward / t.forward, d.backward / t.backward,
              ideal);
  Json r = {{"density", sp.weight.density()}, {"forward_ms", t.forward * 1e3}, {"backward_ms", t.backward * 1e3},
            {"speedup_forward", d.forward / t.forward}, {"speedup_backward", d.backward / t.backward},
            {"ideal_speedup", ideal}};
  if ((s.k == 1 && s.stride == 1) || dev.is_cuda() || sp.weight.block > 1) return r;
  // Both fixed paths, so the table shows whether the engine's choice per layer is right.
  for (auto [path, label, key] : {std::tuple{ops::SparseConvPath::Unfold, "im2col", "unfold"},
                                  std::tuple{ops::SparseConvPath::Implicit, "direct", "implicit"}}) {
    ops::set_sparse_conv_path(path);
    const PassTimes u = time_passes(conv, x, input_grad, min_seconds, dev);
    ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
    std::printf("%-26s   %6s fwd %8.2f ms  bwd %8.2f ms  speedup fwd %5.2fx bwd %5.2fx\n", "", label,
                u.forward * 1e3, u.backward * 1e3, d.forward / u.forward, d.backward / u.backward);
    r[std::string(key) + "_forward_ms"] = u.forward * 1e3;
    r[std::string(key) + "_backward_ms"] = u.backward * 1e3;
  }
  return r;
}

Json bench_shape(const ConvShape& s, int64_t batch, const std::vector<double>& densities, double min_seconds,
                 Device dev) {
  Rng rng(7);
  nn::Conv2d dense(s.cin, s.cout, s.k, s.stride, s.k / 2, false);
  dense.to(dev);
  Tensor x = Tensor::empty({batch, s.cin, s.side, s.side});
  nn::normal_(x, 0.0, 1.0, rng);
  x = x.to(dev);
  const bool input_grad = s.cin != 3;  // the stem reads the data
  const PassTimes d = time_passes([&](const Tensor& in) { return dense.forward(in); }, x, input_grad, min_seconds, dev);
  std::printf("%-26s dense    fwd %8.2f ms  bwd %8.2f ms\n", s.name, d.forward * 1e3, d.backward * 1e3);
  Json row = {{"shape", s.name}, {"cin", s.cin}, {"cout", s.cout}, {"k", s.k}, {"stride", s.stride},
              {"side", s.side}, {"batch", batch}, {"dense_forward_ms", d.forward * 1e3},
              {"dense_backward_ms", d.backward * 1e3}, {"sparse", Json::array()}};
  for (double density : densities) {
    auto sp = nn::SparseConv2d::from_dense(dense, density, rng);
    sp->to(dev);
    row["sparse"].push_back(bench_sparse(s, *sp, x, d, input_grad, min_seconds, dev));
  }
  std::fflush(stdout);
  return row;
}

}  // namespace

int run_conv_bench(const ConvBenchArgs& a) {
  const Device dev = parse_device(a.device);
  Json rows = Json::array();
  for (const ConvShape& s : resnet50_convs())
    if (std::string(s.name).find(a.only) != std::string::npos)
      rows.push_back(bench_shape(s, a.batch, a.densities, a.min_seconds, dev));
  SPROUT_CHECK(!rows.empty(), "bench conv: no ResNet-50 convolution's name contains '", a.only, "'");
  if (!a.json_out.empty()) {
    std::ofstream f(a.json_out);
    f << Json{{"bench", "conv"}, {"device", dev.is_cuda() ? device_name(dev) : "cpu"}, {"batch", a.batch},
              {"command", "sprout bench conv"}, {"rows", rows}}.dump(1) << "\n";
  }
  return 0;
}

}  // namespace sprout::app
