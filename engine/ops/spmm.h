// SpMM: sparse weight times dense operand, and the ops built on it with their
// gradients: the fully connected layer y = x W^T + b and the column product
// Y = W Cols. Forward is SpMM, the input gradient SpMM with W^T, the weight gradient
// SDDMM at W's entries only (engine/ops/sddmm.h), so the values' gradient has length
// nnz. The kernel comes from the sparse kernel registry (kernels/sparse_registry.h).
#pragma once
#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"
#include "kernels/sparse_registry.h"

namespace sprout::ops {

// x [N, in] -> [N, out]; w: rows = out, cols = in (CSR or BSR); bias [out] or undefined.
// The bias is added while the output is transposed back, and its gradient summed from
// the transposed output gradient, so it costs no pass of its own.
Tensor sparse_linear(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias);

// cols [K, P] -> [out, P], or a batch [B, K, P] -> [B, out, P] sharing W (K = w.cols).
Tensor sparse_matmul_cols(sparse::SparseParameter& w, const Tensor& cols);

// ---- raw products, no autograd (other ops, tests and the benchmark) ----------------

// c_i = op(W) b_i over a batch: b [K, n] or [B, K, n] -> c [M, n] / [B, M, n], where
// op(W) = W (M = rows, K = cols) or W^T. `values` is W's values (or a stand-in of the
// same length). `kernel` null: the registry's selection for the device and format.
void spmm_into(const sparse::SparseParameter& w, const Tensor& values, bool transpose_w,
               const Tensor& b, Tensor& c, bool accumulate = false,
               const kernels::SparseKernel* kernel = nullptr);
// c = (op(W) b)^T (+ bias[r] on column r): b [K, n] -> c [n, M] in category `cat`. The
// kernel writes the transposed result directly when it can, else it is transposed after.
Tensor spmm_transposed(const sparse::SparseParameter& w, const Tensor& values, bool transpose_w,
                       const Tensor& b, MemCategory cat, const Tensor& bias = Tensor(),
                       const kernels::SparseKernel* kernel = nullptr);
// [r, c] -> [c, r] in category `cat`, adding row_bias[i] to source row i when defined.
Tensor transpose2d(const Tensor& x, MemCategory cat, const Tensor& row_bias = Tensor());

}  // namespace sprout::ops
