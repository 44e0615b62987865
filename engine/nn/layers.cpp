// Linear, ReLU, Flatten, Sequential.
#include "engine/nn/layers.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/init.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/shape.h"

namespace sprout::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  double bound = 1.0 / std::sqrt((double)in);
  WeightDraw draw = WeightDraw::plan(out, in, bound, init_rng());
  if (dense_weights_deferred()) pending_weight = draw;
  else weight = draw.dense();
  register_parameter("weight", &weight);
  if (has_bias) {
    bias = Tensor::empty({out}, DType::F32, Device::cpu(), MemCategory::Weights);
    uniform_(bias, -bound, bound, init_rng());
    register_parameter("bias", &bias);
  }
}

void Linear::materialize() {
  if (!pending_weight) return;
  weight = pending_weight->dense();
  weight.set_requires_grad(true);
  pending_weight.reset();
}

void materialize_dense_weights(Module& model) {
  for (auto& [name, m] : model.modules())
    if (auto* l = dynamic_cast<Linear*>(m)) l->materialize();
    else if (auto* c = dynamic_cast<Conv2d*>(m)) c->materialize();
}

Tensor Linear::forward(const Tensor& x) {
  SPROUT_CHECK(!pending_weight, "Linear ", in_features, " -> ", out_features,
               ": its weight was never materialised (built under DeferDenseWeights)");
  return ops::linear(x, weight, bias);
}

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }

Tensor Flatten::forward(const Tensor& x) {
  return ops::reshape(x, {x.size(0), x.numel() / (x.size(0) ? x.size(0) : 1)});
}

void Sequential::add(ModulePtr m) { add(std::to_string(children().size()), std::move(m)); }
void Sequential::add(const std::string& name, ModulePtr m) { register_module(name, std::move(m)); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& c : children()) h = c.second->forward(h);
  return h;
}

}  // namespace sprout::nn
