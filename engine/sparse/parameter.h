// SparseParameter: a sparse layer's weight, stored truly sparse. The structure
// (row_ptr, col_idx: int32, category "indices") and the values (length nnz, category
// "weights", the tensor autograd and the optimizer see) never exist densely; with
// block > 1 it is BSR. Below nn, so ops and topology edits take it without reaching up
// into modules. Also the bridges: build one from a CsrMatrix / BsrMatrix, view one as
// a matrix again, and describe it to a kernel as raw arrays.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/core/tensor.h"
#include "engine/sparse/matrix.h"
#include "engine/sparse/transpose.h"
#include "kernels/sparse_registry.h"

namespace sprout::sparse {

// A layer's weight gradient for growth decisions: either its two factors, dW = gt xt^T
// with gt [rows, n] (output gradient, transposed) and xt [cols, n] (input, transposed),
// so no [rows, cols] tensor needs to exist, or (ops without factors: convolutions) the
// dense gradient itself.
struct GradFactors {
  Tensor gt, xt;
  Tensor dense;
};

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
  // Set with it by the same methods: an op that has the gradient's factors (a linear
  // layer) calls this instead, once, and forms no dense gradient (engine/ops/grow.h).
  std::function<void(const GradFactors& grad)> grad_factors_hook;
  // The CSC view, attached by a backward pass that multiplies by W^T several times (the
  // chunks of a convolution) so it is built once; null: each product finds its own.
  std::shared_ptr<const TransposedStructure> transposed;
  int64_t nnz() const { return values.defined() ? values.numel() : 0; }
  int64_t dense_numel() const { return rows * cols; }
  double density() const { return dense_numel() ? (double)nnz() / (double)dense_numel() : 0.0; }
  void to(Device dev) {
    if (values.device() == dev) return;
    transposed.reset();
    row_ptr = row_ptr.to(dev, MemCategory::Indices);
    col_idx = col_idx.to(dev, MemCategory::Indices);
    Tensor v = values.to(dev, MemCategory::Weights);
    v.set_requires_grad(true);
    values = v;
  }
};

// dense_shape defaults to [rows, cols]; a conv passes [cout, cin, kh, kw].
SparseParameter make_parameter(const CsrMatrix& m, Shape dense_shape = {});
SparseParameter make_parameter(const BsrMatrix& m, Shape dense_shape = {});

// Views sharing the parameter's tensors (no copy).
CsrMatrix csr_view(const SparseParameter& p);
BsrMatrix bsr_view(const SparseParameter& p);

inline int64_t grid_rows(const SparseParameter& p) { return (p.rows + p.block - 1) / p.block; }
inline int64_t grid_cols(const SparseParameter& p) { return (p.cols + p.block - 1) / p.block; }
inline int64_t nnz_blocks(const SparseParameter& p) { return p.col_idx.numel(); }
inline kernels::SparseFormat format_of(const SparseParameter& p) {
  return p.block > 1 ? kernels::SparseFormat::Bsr : kernels::SparseFormat::Csr;
}

// Throws unless the parameter's structure, values and shape agree.
void validate(const SparseParameter& p);

// Raw arrays for a kernel; `t` (may be null) supplies the CSC view.
template <class T>
kernels::SparseOperand<T> operand(const SparseParameter& p, const Tensor& values,
                                  const TransposedStructure* t) {
  kernels::SparseOperand<T> a;
  a.rows = p.rows;
  a.cols = p.cols;
  a.block = p.block;
  a.nnz_blocks = p.col_idx.numel();
  a.row_ptr = p.row_ptr.data<int32_t>();
  a.col_idx = p.col_idx.data<int32_t>();
  a.values = values.defined() ? values.data<T>() : nullptr;
  if (t) {
    a.t_row_ptr = t->row_ptr.data<int32_t>();
    a.t_col_idx = t->col_idx.data<int32_t>();
    a.t_perm = t->perm.data<int32_t>();
  }
  return a;
}

}  // namespace sprout::sparse
