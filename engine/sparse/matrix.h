// CsrMatrix and BsrMatrix: sparse matrices as int32 row_ptr / col_idx tensors plus a
// float32 or float64 values tensor, on any device. Conversions from dense (tests,
// from_dense layers), random structure at an exact nnz, validation of the structure,
// and the transposed copy (the CSC view the transposed products read).
#pragma once
#include <cstdint>

#include "engine/core/rng.h"
#include "engine/core/tensor.h"

namespace sprout::sparse {

// A dense [rows, cols] matrix with nnz stored entries, CSR over rows.
struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  Tensor row_ptr;  // int32 [rows + 1]
  Tensor col_idx;  // int32 [nnz], sorted within each row
  Tensor values;   // F32/F64 [nnz]

  int64_t nnz() const { return col_idx.defined() ? col_idx.numel() : 0; }
  Device device() const { return values.device(); }
  DType dtype() const { return values.dtype(); }
  double density() const { return rows > 0 && cols > 0 ? (double)nnz() / (double)(rows * cols) : 0.0; }

  // Entries where dense != 0 (dense: [rows, cols], or any shape viewed as [size(0), rest]).
  static CsrMatrix from_dense(const Tensor& dense);
  // Entries where mask != 0 (any dtype), values taken from dense even when 0.
  static CsrMatrix from_dense(const Tensor& dense, const Tensor& mask);
  // nnz distinct positions drawn uniformly, values U(-1, 1).
  static CsrMatrix random(int64_t rows, int64_t cols, int64_t nnz, Rng& rng,
                          DType dt = DType::F32);
  // Exactly nnz_per_row positions in every row.
  static CsrMatrix random_per_row(int64_t rows, int64_t cols, int64_t nnz_per_row, Rng& rng,
                                  DType dt = DType::F32);

  Tensor to_dense() const;  // [rows, cols] on the matrix's device
  // Throws naming the row when row_ptr is not monotone from 0 to nnz, or a row's column
  // indices are out of range, unsorted or repeated.
  void validate() const;
  CsrMatrix to(Device dev) const;
  // CSR of the transpose (= CSC of this), values carried.
  CsrMatrix transposed() const;
};

// Block-sparse: block x block dense blocks (4..32) on a grid of ceil(rows / block) x
// ceil(cols / block); blocks at the right / bottom edge may overhang, the overhang
// holding zeros.
struct BsrMatrix {
  int64_t rows = 0, cols = 0;
  int block = 4;
  Tensor row_ptr;  // int32 [block_rows + 1]
  Tensor col_idx;  // int32 [nnz_blocks], block columns
  Tensor values;   // F32/F64 [nnz_blocks * block * block], each block row-major

  int64_t block_rows() const { return (rows + block - 1) / block; }
  int64_t block_cols() const { return (cols + block - 1) / block; }
  int64_t nnz_blocks() const { return col_idx.defined() ? col_idx.numel() : 0; }
  Device device() const { return values.device(); }
  DType dtype() const { return values.dtype(); }

  // Blocks holding any nonzero of dense (resp. of mask), stored whole.
  static BsrMatrix from_dense(const Tensor& dense, int block);
  static BsrMatrix from_dense(const Tensor& dense, const Tensor& mask, int block);
  static BsrMatrix random(int64_t rows, int64_t cols, int block, int64_t nnz_blocks, Rng& rng,
                          DType dt = DType::F32);

  Tensor to_dense() const;
  void validate() const;
  BsrMatrix to(Device dev) const;
  BsrMatrix transposed() const;
};

// Checks a block-row structure (CSR when the grid is the matrix itself); `what` names
// the matrix in the error. Reads device tensors back to the host.
void validate_structure(const Tensor& row_ptr, const Tensor& col_idx, int64_t grid_rows,
                        int64_t grid_cols, const char* what);

// Sorted distinct picks of k numbers from [0, n) (Floyd's algorithm, or the complement
// when k > n / 2), so sampling costs O(k log k), not O(n).
std::vector<int64_t> sample_distinct(int64_t n, int64_t k, Rng& rng);

}  // namespace sprout::sparse
