// Bridges between the sparse matrices and a layer's SparseParameter: build one from a
// CsrMatrix / BsrMatrix (values in the weights category, structure in indices), view
// one as a matrix again, and describe it to a kernel as raw arrays.
#pragma once
#include "engine/sparse/sparse_parameter.h"
#include "engine/sparse/matrix.h"
#include "engine/sparse/transpose.h"
#include "kernels/cpu/sparse_registry.h"

namespace sprout::sparse {

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
