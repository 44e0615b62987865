// Row-major GEMM on the CPU: C = alpha op(A) op(B) + beta C, with op = transpose
// when trans_* is set. OpenBLAS when found at configure time, else a blocked
// OpenMP loop (gemm_builtin), which the benchmark compares against OpenBLAS.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <class T>
void gemm_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                  const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

bool have_openblas();

// Threads every BLAS call runs with, whatever OpenMP's count is when it is made (0:
// OpenMP's count). OpenBLAS splits its sums differently for each thread count, so a
// run that changes its OpenMP count between steps (train.adapt_threads) keeps the BLAS
// count fixed and its results stay the same bits; sprout's own kernels give the same
// bits on any count.
void set_blas_threads(int n);
int blas_threads();

}  // namespace sprout::kernels::cpu
