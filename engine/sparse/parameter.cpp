// SparseParameter construction and views.
#include "engine/sparse/parameter.h"

#include "engine/core/error.h"
#include "engine/sparse/validate.h"

namespace sprout::sparse {

static SparseParameter make(const Tensor& row_ptr, const Tensor& col_idx, const Tensor& values,
                                int64_t rows, int64_t cols, int block, Shape dense_shape) {
  SparseParameter p;
  Device d = values.device();
  p.row_ptr = row_ptr.to(d, MemCategory::Indices);
  p.col_idx = col_idx.to(d, MemCategory::Indices);
  p.values = values.to(d, MemCategory::Weights);
  p.values.set_requires_grad(true);
  p.rows = rows;
  p.cols = cols;
  p.block = block;
  p.dense_shape = dense_shape.empty() ? Shape{rows, cols} : dense_shape;
  SPROUT_CHECK(shape_numel(p.dense_shape) == rows * cols, "make_parameter: dense shape ",
               shape_str(p.dense_shape), " does not hold a ", rows, " x ", cols, " matrix");
  return p;
}

SparseParameter make_parameter(const CsrMatrix& m, Shape dense_shape) {
  return make(m.row_ptr, m.col_idx, m.values, m.rows, m.cols, 1, std::move(dense_shape));
}

SparseParameter make_parameter(const BsrMatrix& m, Shape dense_shape) {
  return make(m.row_ptr, m.col_idx, m.values, m.rows, m.cols, m.block, std::move(dense_shape));
}

CsrMatrix csr_view(const SparseParameter& p) {
  SPROUT_CHECK(p.block == 1, "csr_view: the parameter is BSR (block ", p.block, ")");
  CsrMatrix m;
  m.rows = p.rows;
  m.cols = p.cols;
  m.row_ptr = p.row_ptr;
  m.col_idx = p.col_idx;
  m.values = p.values.detach();
  return m;
}

BsrMatrix bsr_view(const SparseParameter& p) {
  SPROUT_CHECK(p.block > 1, "bsr_view: the parameter is CSR");
  BsrMatrix m;
  m.rows = p.rows;
  m.cols = p.cols;
  m.block = p.block;
  m.row_ptr = p.row_ptr;
  m.col_idx = p.col_idx;
  m.values = p.values.detach();
  return m;
}

void validate(const SparseParameter& p) { validate(p, "sparse parameter"); }

}  // namespace sprout::sparse
