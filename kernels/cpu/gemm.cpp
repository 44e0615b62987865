// GEMM: OpenBLAS's cblas when SPROUT_WITH_OPENBLAS, and a plain blocked kernel
// that packs op(B) rows so the inner loop is a contiguous axpy the compiler vectorises.
#include "kernels/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <type_traits>
#include <vector>

#if SPROUT_WITH_OPENBLAS
#include <cblas.h>
#endif

namespace sprout::kernels::cpu {

bool have_openblas() { return SPROUT_WITH_OPENBLAS != 0; }

namespace {
std::atomic<int> g_blas_threads{0};

// OpenBLAS's OpenMP build takes its thread count from the calling thread's OpenMP
// setting: this holds it at blas_threads() for one call (outside parallel regions,
// where BLAS runs on one thread anyway).
class BlasThreads {
 public:
  BlasThreads() : before_(omp_get_max_threads()) {
    const int want = g_blas_threads.load();
    set_ = want > 0 && want != before_ && !omp_in_parallel();
    if (set_) omp_set_num_threads(want);
  }
  ~BlasThreads() {
    if (set_) omp_set_num_threads(before_);
  }
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  int before_;
  bool set_;
};
}  // namespace

void set_blas_threads(int n) { g_blas_threads = n > 0 ? n : 0; }
int blas_threads() { return g_blas_threads.load(); }

template <class T>
void gemm_builtin(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  // Pack op(B) as a k x n row-major block once.
  std::vector<T> bp((size_t)(k * n));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) bp[(size_t)(p * n + j)] = tb ? b[j * ldb + p] : b[p * ldb + j];
  constexpr int64_t kBlockK = 256;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0)) std::fill(ci, ci + n, T(0));
    else if (beta != T(1)) for (int64_t j = 0; j < n; ++j) ci[j] *= beta;
    for (int64_t p0 = 0; p0 < k; p0 += kBlockK) {
      int64_t p1 = std::min(k, p0 + kBlockK);
      for (int64_t p = p0; p < p1; ++p) {
        T av = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
        if (av == T(0)) continue;
        const T* bk = bp.data() + p * n;
        for (int64_t j = 0; j < n; ++j) ci[j] += av * bk[j];
      }
    }
  }
}

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
#if SPROUT_WITH_OPENBLAS
  if (k == 0) { gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return; }
  const BlasThreads hold;
  if constexpr (std::is_same<T, float>::value)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
#else
  gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);
template void gemm_builtin<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                  int64_t, const float*, int64_t, float, float*, int64_t);
template void gemm_builtin<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                   int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace sprout::kernels::cpu
