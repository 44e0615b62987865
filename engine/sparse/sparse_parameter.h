// SparseParameter: a sparse layer's weight, stored truly sparse. The structure
// (row_ptr, col_idx: int32, category "indices") and the values (length nnz,
// category "weights", the tensor autograd and the optimizer see) never exist densely.
// With block > 1 it is BSR: row_ptr/col_idx index blocks of block x block values.
// A plain data structure below nn, so ops and topology edits take it without reaching
// up into modules; nn layers own one.
#pragma once
#include <cstdint>
#include <functional>

#include "engine/core/tensor.h"

namespace sprout::sparse {

struct SparseParameter {
  Tensor row_ptr;    // int32 [block_rows + 1]
  Tensor col_idx;    // int32 [nnz_blocks]
  Tensor values;     // float [nnz_blocks * block * block]
  Shape dense_shape; // e.g. [out, in] or [cout, cin, kh, kw]
  int64_t rows = 0;  // dense rows (output features)
  int64_t cols = 0;  // dense columns (inputs, or cin*kh*kw)
  int block = 1;     // 1: CSR; 4..32: BSR
  // Set by gradient-based regrowth (RigL, GraNet) on update steps only: the layer's
  // backward then forms the dense weight gradient dY^T X ([rows, cols], workspace
  // category), calls this once with it, and frees it at once, so at most one layer's
  // dense gradient exists at a time.
  std::function<void(const Tensor& dense_grad)> dense_grad_hook;
  int64_t nnz() const { return values.defined() ? values.numel() : 0; }
  int64_t dense_numel() const { return rows * cols; }
  double density() const { return dense_numel() ? (double)nnz() / (double)dense_numel() : 0.0; }
  void to(Device dev) {
    if (values.device() == dev) return;
    row_ptr = row_ptr.to(dev, MemCategory::Indices);
    col_idx = col_idx.to(dev, MemCategory::Indices);
    Tensor v = values.to(dev, MemCategory::Weights);
    v.set_requires_grad(true);
    values = v;
  }
};

}  // namespace sprout::sparse
