// SDDMM: the dense product x y^T sampled at a sparse structure's entries, the weight
// gradient of every sparse op (only the nnz stored entries are ever computed).
#pragma once
#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"
#include "kernels/sparse_registry.h"

namespace sprout::ops {

// out[e] (+)= sum_i dot(x_i[row(e)], y_i[col(e)]): x [rows, n] or [B, rows, n], y
// [cols, n] or [B, cols, n], out [nnz values]. `kernel` null: the registry's selection.
void sddmm_into(const sparse::SparseParameter& w, const Tensor& x, const Tensor& y, Tensor& out,
                bool accumulate = false, const kernels::SparseKernel* kernel = nullptr);

}  // namespace sprout::ops
