// GPU SpMM (float32): cuSPARSE's generic SpMM for one CSR product, an own row-split
// kernel (one warp per output row, lanes across 128 columns of the row, batch items
// over grid.z, so a batch is one launch) for CSR and BSR and every batch, the
// dense transpose, and the registry entries that pair each SpMM with an SDDMM.
// A^T products read the CSC view (t_row_ptr / t_col_idx / t_perm) in every kernel,
// so they are as deterministic and as fast as plain ones. The row-split CSR entry reads
// B rows only by pointer, so it declares offset_rows (the unfolding-free convolution).
#include <algorithm>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/sddmm.h"
#include "kernels/cuda/spmm.h"

namespace sprout::kernels::cuda {

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpCols = 128;  // output columns per warp: 4 per lane
constexpr int kThreads = 256;

// ---- row-split kernel ---------------------------------------------------------------

// One warp computes columns [n0, n0 + 128) of one output row. Entries of the row are
// read 32 at a time, one per lane, and broadcast with shuffles. For BSR an "entry" is
// one (block, column-in-block) pair: row i of the block (A) or its column i (A^T).
struct RowSplitArgs {
  int64_t out_rows, b_rows, n, batch;
  int bs;  // 1 for CSR
  const int32_t* row_ptr;
  const int32_t* col_idx;
  const int32_t* perm;  // null for A, the CSC view's value map for A^T
  const float* values;
  const float* b;
  int64_t ldb, stride_b;
  float* c;
  int64_t ldc, stride_c;
  bool accumulate;
};

// Columns [n0, n0 + 128) of output row `row` of one batch item (b, c).
__device__ void rowsplit_tile(const RowSplitArgs& a, int64_t row, int lane, int64_t n0, const float* b, float* c) {
  const int bs = a.bs;
  const int64_t R = row / bs, i = row % bs, bb = (int64_t)bs * bs;
  const int64_t p0 = (int64_t)a.row_ptr[R] * bs, p1 = (int64_t)a.row_ptr[R + 1] * bs;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (int64_t pb = p0; pb < p1; pb += 32) {
    const int64_t p = pb + lane;
    float v = 0.f;
    int64_t brow = -1;
    if (p < p1) {
      const int64_t e = p / bs, jj = p % bs;
      const int64_t slot = a.perm ? a.perm[e] : e;
      v = a.perm ? a.values[slot * bb + jj * bs + i] : a.values[slot * bb + i * bs + jj];
      brow = (int64_t)a.col_idx[e] * bs + jj;
      // Overhang of a BSR edge block. A CSR column index may be an element offset past
      // b_rows (offset_rows), so CSR is never cut here.
      if (bs > 1 && brow >= a.b_rows) brow = -1;
    }
    const int cnt = (int)(p1 - pb < 32 ? p1 - pb : 32);
    for (int t = 0; t < cnt; ++t) {
      const float vt = __shfl_sync(kFullMask, v, t);
      const long long rt = __shfl_sync(kFullMask, (long long)brow, t);
      if (rt < 0) continue;
      const float* br = b + rt * a.ldb;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int64_t col = n0 + lane + 32 * q;
        if (col < a.n) acc[q] += vt * __ldg(br + col);
      }
    }
  }
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int64_t col = n0 + lane + 32 * q;
    if (col < a.n) {
      float* o = c + row * a.ldc + col;
      *o = a.accumulate ? *o + acc[q] : acc[q];
    }
  }
}

// Column tiles stride over grid.y and batch items over grid.z (each capped at 65535).
__global__ void rowsplit_k(RowSplitArgs a) {
  const int64_t row = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= a.out_rows) return;  // whole warps leave together
  for (int64_t item = blockIdx.z; item < a.batch; item += gridDim.z)
    for (int64_t n0 = (int64_t)blockIdx.y * kWarpCols; n0 < a.n; n0 += (int64_t)gridDim.y * kWarpCols)
      rowsplit_tile(a, row, lane, n0, a.b + item * a.stride_b, a.c + item * a.stride_c);
}

void refuse_output_options(const SpmmArgs<float>& a) {
  if (a.transpose_c || a.row_bias) throw std::invalid_argument("spmm: this CUDA kernel has no output options");
}

void spmm_rowsplit(const SpmmArgs<float>& a) {
  refuse_output_options(a);
  const SparseOperand<float>& A = a.a;
  RowSplitArgs r;
  const bool tr = a.transpose_a;
  if (tr && (!A.t_row_ptr || !A.t_col_idx || !A.t_perm))
    throw std::invalid_argument("spmm: a transposed product needs the CSC view");
  r.out_rows = tr ? A.cols : A.rows;
  r.b_rows = tr ? A.rows : A.cols;
  r.n = a.n;
  r.bs = A.block;
  r.row_ptr = tr ? A.t_row_ptr : A.row_ptr;
  r.col_idx = tr ? A.t_col_idx : A.col_idx;
  r.perm = tr ? A.t_perm : nullptr;
  r.values = A.values;
  r.b = a.b;
  r.ldb = a.ldb;
  r.stride_b = a.stride_b;
  r.c = a.c;
  r.ldc = a.ldc;
  r.stride_c = a.stride_c;
  r.accumulate = a.accumulate;
  if (r.out_rows == 0 || a.n == 0 || a.batch == 0) return;
  const int64_t warps_per_block = kThreads / 32;
  r.batch = a.batch;
  dim3 grid((unsigned)((r.out_rows + warps_per_block - 1) / warps_per_block),
            (unsigned)std::min<int64_t>((a.n + kWarpCols - 1) / kWarpCols, 65535),
            (unsigned)std::min<int64_t>(a.batch, 65535));
  rowsplit_k<<<grid, kThreads, 0, a.stream>>>(r);
  SPROUT_CUDA_LAUNCH_CHECK();
}

// ---- cuSPARSE -----------------------------------------------------------------------

cusparseHandle_t sparse_handle() {
  static cusparseHandle_t h = [] {
    cusparseHandle_t x;
    SPROUT_CUSPARSE_CHECK(cusparseCreate(&x));
    return x;
  }();
  return h;
}

__global__ void gather_k(const float* v, const int32_t* perm, int64_t n, float* out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = v[perm[i]];
}

size_t align_up(size_t x) { return (x + 255) / 256 * 256; }

// The matrices of one product. For A^T the CSC view becomes a CSR of A^T whose values
// are gathered into the front of the workspace, so cuSPARSE always runs its
// non-transposed (deterministic) path.
struct CusparseSpmm {
  cusparseSpMatDescr_t a = nullptr;
  cusparseDnMatDescr_t b = nullptr, c = nullptr;
  ~CusparseSpmm() {
    if (a) cusparseDestroySpMat(a);
    if (b) cusparseDestroyDnMat(b);
    if (c) cusparseDestroyDnMat(c);
  }
  CusparseSpmm(const SpmmArgs<float>& x, int64_t item, const float* values) {
    const SparseOperand<float>& A = x.a;
    const bool tr = x.transpose_a;
    const int64_t m = tr ? A.cols : A.rows, k = tr ? A.rows : A.cols;
    SPROUT_CUSPARSE_CHECK(cusparseCreateCsr(
        &a, m, k, A.nnz_blocks, const_cast<int32_t*>(tr ? A.t_row_ptr : A.row_ptr),
        const_cast<int32_t*>(tr ? A.t_col_idx : A.col_idx), const_cast<float*>(values),
        CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    SPROUT_CUSPARSE_CHECK(cusparseCreateDnMat(&b, k, x.n, x.ldb, const_cast<float*>(x.b + item * x.stride_b),
                                              CUDA_R_32F, CUSPARSE_ORDER_ROW));
    SPROUT_CUSPARSE_CHECK(cusparseCreateDnMat(&c, m, x.n, x.ldc, x.c + item * x.stride_c, CUDA_R_32F,
                                              CUSPARSE_ORDER_ROW));
  }
};

size_t cusparse_spmm_buffer(const SpmmArgs<float>& x, const float* values) {
  CusparseSpmm d(x, 0, values);
  const float alpha = 1.f, beta = 1.f;
  size_t bytes = 0;
  SPROUT_CUSPARSE_CHECK(cusparseSpMM_bufferSize(sparse_handle(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, d.a, d.b, &beta, d.c,
                                                CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
  return bytes;
}

size_t spmm_cusparse_workspace(const SpmmArgs<float>& x) {
  const int64_t m = x.transpose_a ? x.a.cols : x.a.rows;
  if (m == 0 || x.n == 0 || x.batch == 0 || x.a.nnz_blocks == 0) return 0;  // the product's own early returns
  if (x.batch > 1) return 0;  // the row-split kernel takes batches
  const size_t gathered = x.transpose_a ? align_up((size_t)x.a.nnz_blocks * sizeof(float)) : 0;
  return gathered + cusparse_spmm_buffer(x, x.a.values);
}

void spmm_cusparse(const SpmmArgs<float>& x) {
  refuse_output_options(x);
  if (x.a.block != 1) throw std::invalid_argument("cuda_cusparse: CSR only");
  // A batch sharing A (every image of a 1x1 convolution) is one launch of the row-split
  // kernel over grid.z, not one cuSPARSE call, descriptor set and memset per item.
  if (x.batch > 1) return spmm_rowsplit(x);
  const int64_t m = x.transpose_a ? x.a.cols : x.a.rows;
  if (m == 0 || x.n == 0 || x.batch == 0) return;
  if (x.a.nnz_blocks == 0) {  // nothing stored: C = 0 (or unchanged)
    if (!x.accumulate)
      for (int64_t i = 0; i < x.batch; ++i)
        SPROUT_CUDA_CHECK(cudaMemset2DAsync(x.c + i * x.stride_c, (size_t)x.ldc * sizeof(float), 0,
                                            (size_t)x.n * sizeof(float), (size_t)m, x.stream));
    return;
  }
  char* ws = static_cast<char*>(x.workspace);
  const float* values = x.a.values;
  size_t used = 0;
  if (x.transpose_a) {
    if (!x.a.t_row_ptr || !x.a.t_perm) throw std::invalid_argument("spmm: a transposed product needs the CSC view");
    float* g = reinterpret_cast<float*>(ws);
    if (x.a.nnz_blocks > 0) {
      gather_k<<<blocks_for(x.a.nnz_blocks, 256), 256, 0, x.stream>>>(x.a.values, x.a.t_perm, x.a.nnz_blocks, g);
      SPROUT_CUDA_LAUNCH_CHECK();
    }
    values = g;
    used = align_up((size_t)x.a.nnz_blocks * sizeof(float));
  }
  SPROUT_CUSPARSE_CHECK(cusparseSetStream(sparse_handle(), x.stream));
  // C starts from zero (or what is there) and beta is 1, so uninitialised output
  // memory is never scaled by a zero beta (0 * NaN).
  if (!x.accumulate)
    for (int64_t i = 0; i < x.batch; ++i)
      SPROUT_CUDA_CHECK(cudaMemset2DAsync(x.c + i * x.stride_c, (size_t)x.ldc * sizeof(float), 0,
                                          (size_t)x.n * sizeof(float), (size_t)m, x.stream));
  const float alpha = 1.f, beta = 1.f;
  for (int64_t i = 0; i < x.batch; ++i) {
    CusparseSpmm d(x, i, values);
    size_t need = 0;
    SPROUT_CUSPARSE_CHECK(cusparseSpMM_bufferSize(sparse_handle(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                  CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, d.a, d.b, &beta,
                                                  d.c, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &need));
    if (used + need > x.workspace_bytes) throw std::runtime_error("cuda_cusparse: workspace too small");
    SPROUT_CUSPARSE_CHECK(cusparseSpMM(sparse_handle(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                       CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, d.a, d.b, &beta, d.c, CUDA_R_32F,
                                       CUSPARSE_SPMM_ALG_DEFAULT, need ? ws + used : nullptr));
  }
}

// ---- transpose ----------------------------------------------------------------------

__global__ void transpose_k(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
                            int64_t ldd, const float* bias) {
  __shared__ float tile[32][33];  // +1 column: no bank conflicts on the transposed read
  const int64_t c0 = (int64_t)blockIdx.x * 32;
  // Row tiles stride over grid.y, which is capped at 65535.
  for (int64_t r0 = (int64_t)blockIdx.y * 32; r0 < rows; r0 += (int64_t)gridDim.y * 32) {
    for (int dy = threadIdx.y; dy < 32; dy += blockDim.y) {
      const int64_t r = r0 + dy, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[dy][threadIdx.x] = src[r * lds + c];
    }
    __syncthreads();
    for (int dy = threadIdx.y; dy < 32; dy += blockDim.y) {
      const int64_t c = c0 + dy, r = r0 + threadIdx.x;
      if (r < rows && c < cols) dst[c * ldd + r] = tile[threadIdx.x][dy] + (bias ? bias[r] : 0.f);
    }
    __syncthreads();  // the tile is refilled for the next row tile
  }
}

// One warp per row.
__global__ void row_sums_k(int64_t rows, int64_t cols, const float* src, int64_t lds, float* out) {
  const int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  float s = 0.f;
  for (int64_t c = lane; c < cols; c += 32) s += src[r * lds + c];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(kFullMask, s, off);
  if (lane == 0) out[r] = s;
}

}  // namespace

void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd,
               const float* bias, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  if ((cols + 31) / 32 > 0x7fffffffLL) throw std::invalid_argument("transpose: too many columns");
  dim3 grid((unsigned)((cols + 31) / 32), (unsigned)std::min<int64_t>((rows + 31) / 32, 65535));
  transpose_k<<<grid, dim3(32, 8), 0, s>>>(rows, cols, src, lds, dst, ldd, bias);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void row_sums(int64_t rows, int64_t cols, const float* src, int64_t lds, float* out, cudaStream_t s) {
  if (rows == 0) return;
  const int64_t blocks = (rows * 32 + kThreads - 1) / kThreads;
  row_sums_k<<<(unsigned)blocks, kThreads, 0, s>>>(rows, cols, src, lds, out);
  SPROUT_CUDA_LAUNCH_CHECK();
}

SparseKernel cusparse_csr_kernel() {
  SparseKernel k;
  k.name = "cuda_cusparse";
  k.device = KernelDevice::Cuda;
  k.format = SparseFormat::Csr;
  k.needs_transpose_view = true;
  k.f32.spmm = spmm_cusparse;
  k.f32.spmm_workspace = spmm_cusparse_workspace;
  k.f32.sddmm = sddmm_cusparse;
  k.f32.sddmm_workspace = sddmm_cusparse_workspace;
  k.note = "cuSPARSE generic SpMM / SDDMM (A^T through a gathered CSC view)";
  return k;
}

SparseKernel rowsplit_csr_kernel() {
  SparseKernel k;
  k.name = "cuda_rowsplit";
  k.device = KernelDevice::Cuda;
  k.format = SparseFormat::Csr;
  k.needs_transpose_view = true;
  k.offset_rows = true;  // B (and the SDDMM's Y) rows are read only as b + col * ldb
  k.f32.spmm = spmm_rowsplit;
  k.f32.sddmm = sddmm_warp;
  k.note = "warp per output row (shuffle-broadcast entries), warp per entry SDDMM";
  return k;
}

SparseKernel bsr_kernel() {
  SparseKernel k;
  k.name = "cuda_bsr";
  k.device = KernelDevice::Cuda;
  k.format = SparseFormat::Bsr;
  k.needs_transpose_view = true;
  k.f32.spmm = spmm_rowsplit;
  k.f32.sddmm = sddmm_warp;
  k.note = "warp per output row over (block, column) pairs, warp per block element SDDMM";
  return k;
}

}  // namespace sprout::kernels::cuda
