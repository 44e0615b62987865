// Convolution with a sparse weight (CSR or BSR over [Cout, Cin * k * k]), with its
// gradients. 1x1 stride-1 unpadded convolutions multiply the input directly (SpMM on
// the NCHW activation). Others, with CSR and a kernel that reads rows at offsets (every
// CPU kernel; cuda_rowsplit on the GPU, float32), run without unfolding: the packed
// input times the weight at element offsets (kernels/cpu/sparse_conv.h and its CUDA
// twin). The rest (BSR, cuSPARSE, and the backward of a step whose regrowth wants the
// dense weight gradient) unfold the input chunk by chunk with the dense conv's unfolding and
// workspace budget (engine/ops/im2col.h), unfolding again in backward instead of
// saving columns.
#pragma once
#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"

namespace sprout::ops {

// Which path a convolution that is not a plain 1x1 takes. Auto: unfolding-free
// wherever it applies; Unfold: always im2col (the reference, and for benchmarks);
// Implicit: unfolding-free or an error saying why not.
enum class SparseConvPath { Auto, Unfold, Implicit };
void set_sparse_conv_path(SparseConvPath p);
SparseConvPath sparse_conv_path();

// x [N, Cin, H, W] -> [N, Cout, Ho, Wo] with w: rows = Cout, cols = Cin * k * k.
Tensor sparse_conv2d(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias, int64_t kernel,
                     int64_t stride, int64_t pad);

}  // namespace sprout::ops
