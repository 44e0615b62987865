// cuBLAS GEMM. cuBLAS is column-major, so the row-major C = op(A) op(B) is computed
// as the column-major C^T = op(B)^T op(A)^T: swap the operands, keep the flags.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/gemm.h"

namespace sprout::kernels::cuda {

static cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t x;
    SPROUT_CUBLAS_CHECK(cublasCreate(&x));
    // Full float32 arithmetic: parity tests compare against the CPU at 1e-5.
    SPROUT_CUBLAS_CHECK(cublasSetMathMode(x, CUBLAS_DEFAULT_MATH));
    return x;
  }();
  return h;
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          cudaStream_t s) {
  if (m == 0 || n == 0) return;
  SPROUT_CUBLAS_CHECK(cublasSetStream(handle(), s));
  if (k == 0) {  // C = beta C; cuBLAS would reject the leading dimensions of empty A and B
    if (beta == 0.f) {
      SPROUT_CUDA_CHECK(cudaMemset2DAsync(c, (size_t)ldc * sizeof(float), 0, (size_t)n * sizeof(float), (size_t)m, s));
    } else if (beta != 1.f) {
      const float zero = 0.f;
      SPROUT_CUBLAS_CHECK(cublasSgeam(handle(), CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)m, &beta, c, (int)ldc, &zero,
                                      c, (int)ldc, c, (int)ldc));
    }
    return;
  }
  SPROUT_CUBLAS_CHECK(cublasSgemm(handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n, (int)m, (int)k, &alpha,
                                  b, (int)ldb, a, (int)lda, &beta, c, (int)ldc));
}

}  // namespace sprout::kernels::cuda
