// Shared helpers of the sparse tests: structures with the edge cases the kernels must
// survive (empty rows, a full row, one column, nothing stored), dense references, and
// comparisons of values at stored positions.
#pragma once
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/sparse/matrix.h"
#include "engine/sparse/parameter.h"
#include "testing.h"

namespace sprout::testing {

// A named structure case: a 0/1 mask of shape [rows, cols].
struct MaskCase {
  std::string name;
  int64_t rows, cols;
  std::vector<uint8_t> mask;
};

// Random mask with density d, then row 0 emptied and row 1 (if any) filled.
inline MaskCase edge_mask(const std::string& name, int64_t rows, int64_t cols, double d, uint64_t seed,
                          bool edges = true) {
  Rng rng(seed);
  MaskCase m{name, rows, cols, std::vector<uint8_t>((size_t)(rows * cols))};
  for (auto& v : m.mask) v = rng.uniform() < d;
  if (edges && rows > 2) {
    for (int64_t c = 0; c < cols; ++c) m.mask[(size_t)c] = 0;
    for (int64_t c = 0; c < cols; ++c) m.mask[(size_t)(cols + c)] = 1;
  }
  return m;
}

inline std::vector<MaskCase> mask_cases() {
  std::vector<MaskCase> out;
  out.push_back(edge_mask("odd_37x29", 37, 29, 0.2, 1));
  out.push_back(edge_mask("wide_13x70", 13, 70, 0.1, 2));
  out.push_back(edge_mask("one_col_9x1", 9, 1, 0.5, 3, false));
  out.push_back(edge_mask("one_row_1x40", 1, 40, 0.3, 4, false));
  out.push_back(edge_mask("empty_6x11", 6, 11, 0.0, 5, false));
  out.push_back(edge_mask("dense_8x8", 8, 8, 1.0, 6, false));
  return out;
}

inline Tensor mask_tensor(const MaskCase& m) {
  std::vector<float> f(m.mask.begin(), m.mask.end());
  return Tensor::from_vector<float>(f, {m.rows, m.cols});
}

// A parameter with random values at the mask (block 1: CSR; else BSR of blocks
// touching the mask), plus the dense weight it equals.
inline sparse::SparseParameter make_param(const MaskCase& m, int block, DType dt, uint64_t seed,
                                      Tensor* dense_out) {
  Tensor w = randn({m.rows, m.cols}, seed, dt);
  Tensor mask = mask_tensor(m);
  sparse::SparseParameter p = block == 1
      ? sparse::make_parameter(sparse::CsrMatrix::from_dense(w, mask))
      : sparse::make_parameter(sparse::BsrMatrix::from_dense(w, mask, block));
  if (dense_out) *dense_out = block == 1 ? sparse::csr_view(p).to_dense() : sparse::bsr_view(p).to_dense();
  return p;
}

// The dense [rows, cols] tensor holding `values` (a values-shaped gradient) at p's
// stored positions, zero elsewhere: turns an nnz gradient into a comparable matrix.
inline Tensor scatter_dense(const sparse::SparseParameter& p, const Tensor& values) {
  sparse::SparseParameter q = p;
  q.values = values.is_cuda() ? values.to(Device::cpu()) : values;
  q.row_ptr = p.row_ptr.is_cuda() ? p.row_ptr.to(Device::cpu()) : p.row_ptr;
  q.col_idx = p.col_idx.is_cuda() ? p.col_idx.to(Device::cpu()) : p.col_idx;
  return q.block == 1 ? sparse::csr_view(q).to_dense() : sparse::bsr_view(q).to_dense();
}

// Entries of `dense` outside p's stored positions set to zero.
inline Tensor mask_like(const sparse::SparseParameter& p, const Tensor& dense) {
  sparse::SparseParameter q = p;
  q.row_ptr = p.row_ptr.is_cuda() ? p.row_ptr.to(Device::cpu()) : p.row_ptr;
  q.col_idx = p.col_idx.is_cuda() ? p.col_idx.to(Device::cpu()) : p.col_idx;
  q.values = Tensor::full({p.values.numel()}, 1.0, dense.dtype());
  Tensor ones = q.block == 1 ? sparse::csr_view(q).to_dense() : sparse::bsr_view(q).to_dense();
  Tensor d = dense.is_cuda() ? dense.to(Device::cpu()) : dense;
  Tensor out = Tensor::empty(d.shape(), d.dtype());
  for (int64_t i = 0; i < d.numel(); ++i) {
    double v = as_double(d, i) * as_double(ones, i);
    if (d.dtype() == DType::F64) out.data<double>()[i] = v;
    else out.data<float>()[i] = (float)v;
  }
  return out;
}

// Item i of a CPU batch [B, r, n] as its own [r, n] tensor.
inline Tensor batch_slice(const Tensor& t, int64_t i) {
  Tensor out = Tensor::empty({t.size(1), t.size(2)}, t.dtype());
  const size_t bytes = out.nbytes();
  std::memcpy(out.raw_data(), static_cast<const char*>(t.raw_data()) + (size_t)i * bytes, bytes);
  return out;
}

inline double tol_for(DType dt) { return dt == DType::F64 ? 1e-12 : 1e-5; }

// flat position -> the values stored there (a whole block for BSR), read on the host.
inline std::map<int64_t, std::vector<float>> entries_of(const sparse::SparseParameter& p, const Tensor& v) {
  auto rp = p.row_ptr.to_vector<int32_t>();
  auto ci = p.col_idx.to_vector<int32_t>();
  auto vals = v.to_vector<float>();
  const int64_t gc = sparse::grid_cols(p), be = (int64_t)p.block * p.block;
  std::map<int64_t, std::vector<float>> out;
  for (int64_t r = 0; r + 1 < (int64_t)rp.size(); ++r)
    for (int64_t e = rp[(size_t)r]; e < rp[(size_t)r + 1]; ++e)
      out[r * gc + ci[(size_t)e]] = std::vector<float>(vals.begin() + e * be, vals.begin() + (e + 1) * be);
  return out;
}

}  // namespace sprout::testing
