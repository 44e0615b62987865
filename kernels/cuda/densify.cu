// Sparse weight <-> dense copy on the GPU: a grid-stride loop over the stored values;
// each finds its block row by binary search in row_ptr (block rows are short, nnz large).
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/densify.h"

namespace sprout::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// Where stored value v (block e, element (i, j)) sits in the dense matrix; -1 past the edge.
__device__ int64_t dense_index(const int32_t* row_ptr, const int32_t* col_idx, int64_t nbr, int64_t rows,
                               int64_t cols, int b, int64_t v) {
  const int64_t bb = (int64_t)b * b, e = v / bb;
  const int i = (int)(v % bb) / b, j = (int)(v % b);
  int64_t lo = 0, hi = nbr;  // the last block row R with row_ptr[R] <= e
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (row_ptr[mid] <= e) lo = mid;
    else hi = mid;
  }
  const int64_t r = lo * b + i, c = (int64_t)col_idx[e] * b + j;
  return r < rows && c < cols ? r * cols + c : -1;
}

__global__ void scatter_k(const int32_t* row_ptr, const int32_t* col_idx, const float* values, int64_t nbr,
                          int64_t rows, int64_t cols, int b, int64_t n, float* dense) {
  for (int64_t v = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; v < n; v += (int64_t)gridDim.x * blockDim.x) {
    const int64_t d = dense_index(row_ptr, col_idx, nbr, rows, cols, b, v);
    if (d >= 0) dense[d] = values[v];
  }
}

__global__ void gather_k(const int32_t* row_ptr, const int32_t* col_idx, const float* dense, int64_t nbr,
                         int64_t rows, int64_t cols, int b, int64_t n, float* out) {
  for (int64_t v = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; v < n; v += (int64_t)gridDim.x * blockDim.x) {
    const int64_t d = dense_index(row_ptr, col_idx, nbr, rows, cols, b, v);
    out[v] = d >= 0 ? dense[d] : 0.f;
  }
}

}  // namespace

void sparse_to_dense(const SparseOperand<float>& a, float* dense, cudaStream_t s) {
  if (a.rows * a.cols == 0) return;
  SPROUT_CUDA_CHECK(cudaMemsetAsync(dense, 0, sizeof(float) * (size_t)(a.rows * a.cols), s));
  const int64_t n = a.nnz_blocks * a.block * a.block;
  SPROUT_LAUNCH_1D(scatter_k, n, kThreads, s, a.row_ptr, a.col_idx, a.values, a.block_rows(), a.rows, a.cols,
                   a.block, n, dense);
}

void gather_dense(const SparseOperand<float>& a, const float* dense, float* out, cudaStream_t s) {
  const int64_t n = a.nnz_blocks * a.block * a.block;
  SPROUT_LAUNCH_1D(gather_k, n, kThreads, s, a.row_ptr, a.col_idx, dense, a.block_rows(), a.rows, a.cols, a.block,
                   n, out);
}

}  // namespace sprout::kernels::cuda
