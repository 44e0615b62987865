// Convolutional layers: Conv2d, BatchNorm2d, MaxPool2d, AvgPool2d and GlobalAvgPool,
// with PyTorch's defaults (initialisation, eps, momentum) and parameter names.
#pragma once
#include <optional>

#include "engine/nn/module.h"
#include "engine/nn/weight_draw.h"

namespace sprout::nn {

class Conv2d : public Module {
 public:
  // weight [out, in, k, k] and bias [out] ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // fan_in = in*k*k (kaiming_uniform with a = sqrt(5), PyTorch's default).
  Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0,
         bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  int64_t in_channels, out_channels, kernel_size, stride, padding;
  Tensor weight, bias;  // weight undefined while pending_weight holds its recipe
  // Built under DeferDenseWeights: how the weight [out, in*k*k] would have been drawn
  // (see Linear::pending_weight).
  std::optional<WeightDraw> pending_weight;
  Shape weight_shape() const { return {out_channels, in_channels, kernel_size, kernel_size}; }
  // Redraws the weight from N(0, std^2) as normal_ does (the models' kaiming normal with
  // fan-out), as a recipe while pending.
  void reset_normal(double std, Rng& rng);
  void materialize();
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  // Training mode normalises with batch statistics and updates the running buffers.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  int64_t num_features;
  double eps, momentum;
  Tensor weight, bias;                 // gamma = 1, beta = 0 (PyTorch's names)
  Tensor running_mean, running_var;    // buffers: 0 and 1
};

class MaxPool2d : public Module {
 public:
  // stride 0 means stride = k (PyTorch's default).
  explicit MaxPool2d(int64_t k, int64_t stride = 0, int64_t pad = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  int64_t kernel_size, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t k, int64_t stride = 0, int64_t pad = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  int64_t kernel_size, stride, padding;
};

// AdaptiveAvgPool2d(1) followed by flatten: [N, C, H, W] -> [N, C].
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAvgPool"; }
};

}  // namespace sprout::nn
