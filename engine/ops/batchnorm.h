// 2-D batch normalisation with gradients for x, gamma and beta (PyTorch semantics), and
// the fused BatchNorm + (residual add) + ReLU of ResNet blocks. Both keep one tensor for
// backward, their input; their output is rebuilt from it when a consumer needs it
// again (autograd/saved.h), so conv -> BN -> ReLU -> conv keeps one tensor per pair.
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

// y = act(batch_norm2d(x) + residual): residual (x's shape) may be undefined, act is
// max(., 0) when relu, else the identity. The values and every gradient equal the
// unfused batch_norm2d, add and relu bit for bit on the CPU; the op keeps x and the
// statistics (not its output, nor the BatchNorm output before the ReLU) and rebuilds
// the ReLU mask from them. While a checkpointed block is recomputed (autograd::
// recomputing()) neither op moves the running statistics again.
Tensor batch_norm_act2d(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                        Tensor running_mean, Tensor running_var, bool training, bool relu,
                        double momentum = 0.1, double eps = 1e-5);

}  // namespace sprout::ops
