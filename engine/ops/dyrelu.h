// DyReLU-B activation op (Chen et al. 2020) with gradients for the input and the
// hyper-network output: y[n, c] = max_k (a_k[n, c] x[n, c] + b_k[n, c]), K = 2.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// x [N, C, ...] ([N, C] is C channels of one element each); theta [N, 4C] (the
// hyper-network's last FC, read as [N, C, 4] = raw a1, a2, b1, b2). The coefficients
// are offset + beta * scale * (2 sigmoid(theta) - 1) with scale (1, 1, 0.5, 0.5) and
// offset (1, 0, 0, 0): DyReLU-B blended with ReLU by beta in [0, 1] (beta 0 is ReLU).
Tensor dyrelu(const Tensor& x, const Tensor& theta, double beta);

}  // namespace sprout::ops
