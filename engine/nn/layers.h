// Basic layers: Linear, ReLU, Flatten, Sequential.
#pragma once
#include <optional>

#include "engine/nn/module.h"
#include "engine/nn/weight_draw.h"

namespace sprout::nn {

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  int64_t in_features, out_features;
  Tensor weight, bias;  // weight [out, in]; undefined while pending_weight holds its recipe
  // Built under DeferDenseWeights: how the weight would have been drawn. A sparsifier
  // draws a sparse layer's values from it; materialize() draws the dense weight.
  std::optional<WeightDraw> pending_weight;
  void materialize();
};

// Materialises every Linear and Conv2d of the tree still holding a pending weight.
void materialize_dense_weights(Module& model);

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

// [N, ...] -> [N, prod(...)]
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
};

class Sequential : public Module {
 public:
  Sequential() = default;
  // Children are named "0", "1", ... like torch.nn.Sequential.
  void add(ModulePtr m);
  void add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() { return children().size(); }
};

}  // namespace sprout::nn
