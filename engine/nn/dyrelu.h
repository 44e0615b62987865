// DyReLU-B (Chen et al. 2020): a ReLU whose two linear pieces per channel come from
// the input: GAP -> FC(C -> C/4) -> ReLU -> FC(-> 4C) -> coefficients (see
// ops::dyrelu). `beta` blends it with ReLU (EAST's phasing); at beta 0 it is ReLU
// and its hyper-network is not run.
#pragma once
#include "engine/nn/module.h"

namespace sprout::nn {

class DyReLU : public Module {
 public:
  // fc1 as PyTorch's Linear default; fc2 zero, so a fresh DyReLU is exactly ReLU and
  // swapping it into a network changes nothing until it learns.
  explicit DyReLU(int64_t channels, int64_t reduction = 4);
  // x [N, C] (C channels of one element) or [N, C, H, W].
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DyReLU"; }
  int64_t channels, hidden;
  double beta = 1.0;
  // Hyper-network weights, held directly (not as Linear children) so config-driven
  // sparsification, which sparsifies every Linear, leaves them dense and uncounted.
  Tensor fc1_weight, fc1_bias;  // [hidden, C], [hidden]
  Tensor fc2_weight, fc2_bias;  // [4C, hidden], [4C]
};

}  // namespace sprout::nn
