// Softmax cross-entropy kernels: numerically stable (max subtracted, log-sum-exp).
#include "kernels/cpu/loss.h"

#include <cmath>

namespace sprout::kernels::cpu {

template <class T>
void softmax_xent_forward(const T* logits, const int32_t* labels, int64_t n, int64_t c,
                          T smoothing, T* probs, T* row_loss) {
#pragma omp parallel for if (n * c > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T* x = logits + i * c;
    T* p = probs + i * c;
    T mx = x[0];
    for (int64_t j = 1; j < c; ++j) mx = x[j] > mx ? x[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < c; ++j) s += std::exp((double)(x[j] - mx));
    double lse = std::log(s) + (double)mx;
    double loss = 0, mean_logp = 0;
    for (int64_t j = 0; j < c; ++j) {
      double logp = (double)x[j] - lse;
      p[j] = (T)std::exp(logp);
      mean_logp += logp;
    }
    mean_logp /= (double)c;
    loss = -(1.0 - (double)smoothing) * ((double)x[labels[i]] - lse) - (double)smoothing * mean_logp;
    row_loss[i] = (T)loss;
  }
}

template <class T>
void softmax_xent_backward(const T* probs, const int32_t* labels, int64_t n, int64_t c,
                           T smoothing, T scale, T* dx) {
  T off = smoothing / (T)c;
#pragma omp parallel for if (n * c > 65536)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c; ++j) {
      T target = off + (j == labels[i] ? T(1) - smoothing : T(0));
      dx[i * c + j] = (probs[i * c + j] - target) * scale;
    }
  }
}

template <class T>
int64_t count_correct(const T* logits, const int32_t* labels, int64_t n, int64_t c, int k) {
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* x = logits + i * c;
    T v = x[labels[i]];
    int64_t above = 0;
    for (int64_t j = 0; j < c; ++j) above += x[j] > v;
    correct += above < k;
  }
  return correct;
}

#define SPROUT_INSTANTIATE(T)                                                                  \
  template void softmax_xent_forward<T>(const T*, const int32_t*, int64_t, int64_t, T, T*, T*); \
  template void softmax_xent_backward<T>(const T*, const int32_t*, int64_t, int64_t, T, T, T*); \
  template int64_t count_correct<T>(const T*, const int32_t*, int64_t, int64_t, int);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
