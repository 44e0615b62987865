// DyReLU-B module: the hyper-network from existing ops, then the fused activation.
#include "engine/nn/dyrelu.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/dyrelu.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"

namespace sprout::nn {

DyReLU::DyReLU(int64_t c, int64_t reduction) : channels(c) {
  SPROUT_CHECK(c > 0 && reduction > 0, "DyReLU(", c, ", reduction ", reduction, "): sizes must be positive");
  hidden = std::max<int64_t>(1, c / reduction);
  double bound = 1.0 / std::sqrt((double)c);
  fc1_weight = Tensor::empty({hidden, c}, DType::F32, Device::cpu(), MemCategory::Weights);
  fc1_bias = Tensor::empty({hidden}, DType::F32, Device::cpu(), MemCategory::Weights);
  uniform_(fc1_weight, -bound, bound, init_rng());
  uniform_(fc1_bias, -bound, bound, init_rng());
  fc2_weight = Tensor::zeros({4 * c, hidden}, DType::F32, Device::cpu(), MemCategory::Weights);
  fc2_bias = Tensor::zeros({4 * c}, DType::F32, Device::cpu(), MemCategory::Weights);
  register_parameter("fc1_weight", &fc1_weight);
  register_parameter("fc1_bias", &fc1_bias);
  register_parameter("fc2_weight", &fc2_weight);
  register_parameter("fc2_bias", &fc2_bias);
}

Tensor DyReLU::forward(const Tensor& x) {
  SPROUT_CHECK((x.dim() == 2 || x.dim() == 4) && x.size(1) == channels, "DyReLU(", channels,
               "): input must be [N, ", channels, "] or [N, ", channels, ", H, W], got ", shape_str(x.shape()));
  if (beta <= 0.0) return ops::relu(x);
  Tensor pooled = x.dim() == 4 ? ops::global_avg_pool(x) : x;
  Tensor h = ops::relu(ops::linear(pooled, fc1_weight, fc1_bias));
  Tensor theta = ops::linear(h, fc2_weight, fc2_bias);
  return ops::dyrelu(x, theta, beta);
}

}  // namespace sprout::nn
