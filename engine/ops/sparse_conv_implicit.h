// The unfolding-free sparse convolution (CSR; kernels/cpu/sparse_conv.h, on the GPU
// kernels/cuda/sparse_conv.h in float32): the forward product, the input gradient per
// phase with W^T and the weight gradient by SDDMM, each in chunks of images under the
// convolution workspace budget. Internal to engine/ops; sparse_conv2d decides when it
// runs.
#pragma once
#include <vector>

#include "engine/ops/im2col.h"
#include "engine/sparse/parameter.h"

namespace sprout::ops::detail {

// True when the selected kernel for w on `dev` reads B rows at element offsets (CSR;
// float32 on CUDA) and every offset of this geometry fits an int32.
bool implicit_conv_possible(const sparse::SparseParameter& w, Device dev, const ConvGeometry& g);
// The cost model, per pass: the products run over whole phase planes, so small planes
// pay for the positions past the output (forward, weight gradient) and for the zero
// border (input gradient). Unfolding is faster once either costs 1.5x the useful
// positions (measured on ResNet-50 at batch 8, bench/results/cpu_speed: 14x14 planes'
// input gradient at 1.65x and 7x7 planes at 1.65x / 2.5x lose, 28x28 at 1.31x wins).
bool implicit_conv_pays(const ConvGeometry& g, bool backward);
// y [N, O, Hout, Wout] = W * x with w's structure and `values`.
Tensor implicit_conv_forward(const Tensor& x, const sparse::SparseParameter& w, const Tensor& values,
                             const ConvGeometry& g);
// {dx or undefined, dvalues or undefined} from the output gradient gy.
std::vector<Tensor> implicit_conv_backward(const sparse::SparseParameter& w, const Tensor& values, const Tensor& x,
                                           bool want_dx, bool want_dv, const ConvGeometry& g, const Tensor& gy);

// W's offsets for a chunk of nb images, built on w's device (the passes above build
// them themselves; these are for tests): one per stored entry for the forward product
// and the weight gradient, and W^T per phase for the input gradient (row_ptr with
// phases (C + 1) slots, off and perm; see kernels/cpu/sparse_conv.h).
struct TransposedOffsets {
  Tensor row_ptr, off, perm;
};
Tensor implicit_entry_offsets(const sparse::SparseParameter& w, const ConvGeometry& g, int64_t nb);
TransposedOffsets implicit_transposed_offsets(const sparse::SparseParameter& w, const ConvGeometry& g, int64_t nb);

}  // namespace sprout::ops::detail
