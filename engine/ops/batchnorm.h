// 2-D batch normalisation with gradients for x, gamma and beta (PyTorch semantics).
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// x [N, C, H, W]; gamma, beta [C] or undefined (no affine); running_mean and
// running_var [C] buffers, updated in place (outside autograd) when training, read
// when not. Training normalises with the batch mean and biased variance and moves
// the running variance towards the unbiased one: r = (1 - momentum) r + momentum s.
// The running buffers may be undefined in training (no tracking); eval needs them.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    Tensor running_mean, Tensor running_var, bool training,
                    double momentum = 0.1, double eps = 1e-5);

}  // namespace sprout::ops
