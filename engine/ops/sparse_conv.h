// Convolution with a sparse weight (CSR or BSR over [Cout, Cin * k * k]), with its
// gradients. 1x1 stride-1 unpadded convolutions multiply the input directly (SpMM on
// the NCHW activation); others unfold it chunk by chunk with the dense conv's
// unfolding and workspace budget (engine/ops/im2col.h), and the backward unfolds
// again instead of saving columns.
#pragma once
#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"

namespace sprout::ops {

// x [N, Cin, H, W] -> [N, Cout, Ho, Wo] with w: rows = Cout, cols = Cin * k * k.
Tensor sparse_conv2d(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias, int64_t kernel,
                     int64_t stride, int64_t pad);

}  // namespace sprout::ops
