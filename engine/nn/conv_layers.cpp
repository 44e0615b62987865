// Conv2d, BatchNorm2d and the pooling modules: parameters and buffers, then one op.
#include "engine/nn/conv_layers.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv.h"
#include "engine/ops/pool.h"

namespace sprout::nn {

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t pad, bool has_bias)
    : in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(pad) {
  SPROUT_CHECK(in > 0 && out > 0 && k > 0 && s > 0 && pad >= 0, "Conv2d(in ", in, ", out ", out,
               ", k ", k, ", stride ", s, ", pad ", pad, "): sizes must be positive");
  double bound = 1.0 / std::sqrt((double)(in * k * k));
  WeightDraw draw = WeightDraw::plan(out, in * k * k, bound, init_rng());
  if (dense_weights_deferred()) pending_weight = draw;
  else weight = draw.dense().view(weight_shape());
  register_parameter("weight", &weight);
  if (has_bias) {
    bias = Tensor::empty({out}, DType::F32, Device::cpu(), MemCategory::Weights);
    uniform_(bias, -bound, bound, init_rng());
    register_parameter("bias", &bias);
  }
}

void Conv2d::reset_normal(double std, Rng& rng) {
  const int64_t cols = in_channels * kernel_size * kernel_size;
  if (pending_weight) pending_weight = WeightDraw::plan_normal(out_channels, cols, std, rng);
  else normal_(weight, 0.0, std, rng);
}

void Conv2d::materialize() {
  if (!pending_weight) return;
  weight = pending_weight->dense().view(weight_shape());
  weight.set_requires_grad(true);
  pending_weight.reset();
}

Tensor Conv2d::forward(const Tensor& x) {
  SPROUT_CHECK(!pending_weight, "Conv2d ", in_channels, " -> ", out_channels,
               ": its weight was never materialised (built under DeferDenseWeights)");
  return ops::conv2d(x, weight, bias, stride, padding);
}

BatchNorm2d::BatchNorm2d(int64_t c, double e, double m) : num_features(c), eps(e), momentum(m) {
  SPROUT_CHECK(c > 0, "BatchNorm2d(", c, "): channels must be positive");
  weight = Tensor::full({c}, 1.0, DType::F32, Device::cpu());
  weight = weight.clone(MemCategory::Weights);
  bias = Tensor::zeros({c}, DType::F32, Device::cpu(), MemCategory::Weights);
  running_mean = Tensor::zeros({c}, DType::F32, Device::cpu(), MemCategory::Weights);
  running_var = weight.clone(MemCategory::Weights);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  return ops::batch_norm2d(x, weight, bias, running_mean, running_var, training(), momentum, eps);
}

MaxPool2d::MaxPool2d(int64_t k, int64_t s, int64_t pad) : kernel_size(k), stride(s ? s : k), padding(pad) {}
Tensor MaxPool2d::forward(const Tensor& x) { return ops::max_pool2d(x, kernel_size, stride, padding); }

AvgPool2d::AvgPool2d(int64_t k, int64_t s, int64_t pad) : kernel_size(k), stride(s ? s : k), padding(pad) {}
Tensor AvgPool2d::forward(const Tensor& x) { return ops::avg_pool2d(x, kernel_size, stride, padding); }

Tensor GlobalAvgPool::forward(const Tensor& x) { return ops::global_avg_pool(x); }

}  // namespace sprout::nn
