// Sparse weight <-> dense copy on the CPU: one pass per block row, rows in parallel.
#include "kernels/cpu/densify.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace sprout::kernels::cpu {

namespace {

constexpr int64_t kSerialElems = 1 << 16;

// f(e, i, j, r, c) for every in-range element (i, j) of every stored block e of block
// row R, at matrix row r = R * block + i and column c.
template <class T, class F>
void for_each_element(const SparseOperand<T>& a, int64_t R, F&& f) {
  const int b = a.block;
  for (int64_t e = a.row_ptr[R]; e < a.row_ptr[R + 1]; ++e) {
    const int64_t c0 = (int64_t)a.col_idx[e] * b;
    for (int i = 0; i < b && R * b + i < a.rows; ++i)
      for (int j = 0; j < b && c0 + j < a.cols; ++j) f(e, i, j, R * b + i, c0 + j);
  }
}

}  // namespace

template <class T>
void sparse_to_dense(const SparseOperand<T>& a, T* dense) {
  const int64_t nbr = a.block_rows(), b = a.block, bb = b * b;
#pragma omp parallel for schedule(static) if (a.rows * a.cols > kSerialElems)
  for (int64_t R = 0; R < nbr; ++R) {
    const int64_t r0 = R * b, r1 = std::min(a.rows, r0 + b);
    std::memset(dense + r0 * a.cols, 0, sizeof(T) * (size_t)((r1 - r0) * a.cols));
    for_each_element(a, R, [&](int64_t e, int i, int j, int64_t r, int64_t c) {
      dense[r * a.cols + c] = a.values[e * bb + i * b + j];
    });
  }
}

template <class T>
void gather_dense(const SparseOperand<T>& a, const T* dense, T* out) {
  const int64_t nbr = a.block_rows(), b = a.block, bb = b * b;
  if (b > 1) std::fill(out, out + a.nnz_blocks * bb, T(0));  // the overhang of edge blocks
#pragma omp parallel for schedule(static) if (a.nnz_blocks * bb > kSerialElems)
  for (int64_t R = 0; R < nbr; ++R)
    for_each_element(a, R, [&](int64_t e, int i, int j, int64_t r, int64_t c) {
      out[e * bb + i * b + j] = dense[r * a.cols + c];
    });
}

template void sparse_to_dense<float>(const SparseOperand<float>&, float*);
template void sparse_to_dense<double>(const SparseOperand<double>&, double*);
template void gather_dense<float>(const SparseOperand<float>&, const float*, float*);
template void gather_dense<double>(const SparseOperand<double>&, const double*, double*);

}  // namespace sprout::kernels::cpu
