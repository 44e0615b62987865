// GPU SDDMM (float32): cuSPARSE's generic SDDMM for one CSR product (batches go to the
// warp kernel), and a warp-per-value kernel for CSR and BSR whose lanes stride along n
// (and the batch) and reduce with shuffles; each value is written once, so no atomics.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/sddmm.h"

namespace sprout::kernels::cuda {

namespace {

constexpr unsigned kFullMask = 0xffffffffu;

cusparseHandle_t sddmm_handle() {
  static cusparseHandle_t h = [] {
    cusparseHandle_t x;
    SPROUT_CUSPARSE_CHECK(cusparseCreate(&x));
    return x;
  }();
  return h;
}

// out (CSR values) = X_i [rows, n] times Y_i^T: Y_i is described as the column-major
// [n, cols] matrix it already is, so no transpose flag is needed.
struct CusparseSddmm {
  cusparseDnMatDescr_t x = nullptr, y = nullptr;
  cusparseSpMatDescr_t c = nullptr;
  ~CusparseSddmm() {
    if (x) cusparseDestroyDnMat(x);
    if (y) cusparseDestroyDnMat(y);
    if (c) cusparseDestroySpMat(c);
  }
  CusparseSddmm(const SddmmArgs<float>& a, int64_t item) {
    SPROUT_CUSPARSE_CHECK(cusparseCreateDnMat(&x, a.a.rows, a.n, a.ldx, const_cast<float*>(a.x + item * a.stride_x),
                                              CUDA_R_32F, CUSPARSE_ORDER_ROW));
    SPROUT_CUSPARSE_CHECK(cusparseCreateDnMat(&y, a.n, a.a.cols, a.ldy, const_cast<float*>(a.y + item * a.stride_y),
                                              CUDA_R_32F, CUSPARSE_ORDER_COL));
    SPROUT_CUSPARSE_CHECK(cusparseCreateCsr(&c, a.a.rows, a.a.cols, a.a.nnz_blocks,
                                            const_cast<int32_t*>(a.a.row_ptr), const_cast<int32_t*>(a.a.col_idx),
                                            a.out, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                            CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  }
};

// One warp per stored value u (CSR entry, or element (i, j) of BSR block e).
__global__ void sddmm_warp_k(SddmmArgs<float> a, int64_t values) {
  const int64_t u = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (u >= values) return;
  const int bs = a.a.block;
  const int64_t bb = (int64_t)bs * bs, e = u / bb, i = (u % bb) / bs, j = u % bs;
  // Block row of entry e: the last R with row_ptr[R] <= e.
  int64_t lo = 0, hi = (a.a.rows + bs - 1) / bs;
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (a.a.row_ptr[mid] <= e) lo = mid;
    else hi = mid;
  }
  const int64_t r = lo * bs + i, col = (int64_t)a.a.col_idx[e] * bs + j;
  // Only a BSR edge block hangs over; a CSR column index may be an element offset past
  // a.cols (offset_rows).
  float s = 0.f;
  if (r < a.a.rows && (bs == 1 || col < a.a.cols))
    for (int64_t item = 0; item < a.batch; ++item) {
      const float* xr = a.x + item * a.stride_x + r * a.ldx;
      const float* yr = a.y + item * a.stride_y + col * a.ldy;
      for (int64_t k = lane; k < a.n; k += 32) s += __ldg(xr + k) * __ldg(yr + k);
    }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(kFullMask, s, off);
  if (lane == 0) a.out[u] = a.accumulate ? a.out[u] + s : s;
}

}  // namespace

size_t sddmm_cusparse_workspace(const SddmmArgs<float>& a) {
  if (a.a.nnz_blocks == 0 || a.batch == 0 || a.n == 0) return 0;  // the product's own early returns
  if (a.batch > 1) return 0;  // the warp kernel takes batches
  CusparseSddmm d(a, 0);
  const float alpha = 1.f, beta = 1.f;
  size_t bytes = 0;
  SPROUT_CUSPARSE_CHECK(cusparseSDDMM_bufferSize(sddmm_handle(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                 CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, d.x, d.y, &beta, d.c,
                                                 CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &bytes));
  return bytes;
}

void sddmm_cusparse(const SddmmArgs<float>& a) {
  if (a.a.block != 1) throw std::invalid_argument("cuda_cusparse: CSR only");
  if (a.a.nnz_blocks == 0) return;
  // A batch summed into one gradient (a 1x1 convolution's images) is one launch of the
  // warp kernel, which loops over the items itself, not one cuSPARSE call per item.
  if (a.batch > 1) return sddmm_warp(a);
  if (a.batch == 0 || a.n == 0) {
    if (!a.accumulate) SPROUT_CUDA_CHECK(cudaMemsetAsync(a.out, 0, (size_t)a.a.nnz_blocks * sizeof(float), a.stream));
    return;
  }
  SPROUT_CUSPARSE_CHECK(cusparseSetStream(sddmm_handle(), a.stream));
  // The output starts from zero (or what is there) and every item adds with beta = 1,
  // so uninitialised memory is never scaled by a zero beta (0 * NaN).
  if (!a.accumulate) SPROUT_CUDA_CHECK(cudaMemsetAsync(a.out, 0, (size_t)a.a.nnz_blocks * sizeof(float), a.stream));
  const float alpha = 1.f, beta = 1.f;
  for (int64_t i = 0; i < a.batch; ++i) {
    CusparseSddmm d(a, i);
    size_t need = 0;
    SPROUT_CUSPARSE_CHECK(cusparseSDDMM_bufferSize(sddmm_handle(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                   CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, d.x, d.y, &beta,
                                                   d.c, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &need));
    if (need > a.workspace_bytes) throw std::runtime_error("cuda_cusparse: SDDMM workspace too small");
    SPROUT_CUSPARSE_CHECK(cusparseSDDMM(sddmm_handle(), CUSPARSE_OPERATION_NON_TRANSPOSE,
                                        CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, d.x, d.y, &beta, d.c, CUDA_R_32F,
                                        CUSPARSE_SDDMM_ALG_DEFAULT, need ? a.workspace : nullptr));
  }
}

void sddmm_warp(const SddmmArgs<float>& a) {
  const int64_t values = a.a.nnz_blocks * a.a.block * a.a.block;
  if (values == 0) return;
  constexpr int threads = 256;
  const int64_t blocks = (values * 32 + threads - 1) / threads;
  sddmm_warp_k<<<(unsigned)blocks, threads, 0, a.stream>>>(a, values);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
