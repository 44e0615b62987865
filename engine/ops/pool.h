// 2-D pooling with gradients: max (argmax saved for backward), average (padding
// counted as zeros, PyTorch's count_include_pad default) and global average.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// x [N, C, H, W] -> [N, C, Hout, Wout], Hout = (H + 2 pad - k) / stride + 1;
// pad <= k / 2 as in PyTorch. stride 0 means stride = k.
Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride = 0, int64_t pad = 0);
Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t stride = 0, int64_t pad = 0);
// x [N, C, H, W] -> [N, C]: the mean of each plane.
Tensor global_avg_pool(const Tensor& x);

}  // namespace sprout::ops
