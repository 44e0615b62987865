// Elementwise kernels of the fused BatchNorm + (add) + ReLU. One OpenMP iteration per
// (image, channel) plane; the scale and shift are formed exactly as bn_forward_train
// forms them, so the fused output equals the unfused one bit for bit.
#include "kernels/cpu/bn_act.h"

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;

// Calls f(j, v) for every element j of x [N, C, HW] with v = x[j] * a + b [+ residual[j]]
// rounded as the unfused ops round it.
template <class T, class F>
void for_each_act_input(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                        const T* beta, int64_t N, int64_t C, int64_t HW, F f) {
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T a = invstd[c] * (gamma ? gamma[c] : T(1));
      const T b = (beta ? beta[c] : T(0)) - mean[c] * a;
      const int64_t o = (n * C + c) * HW;
      for (int64_t i = o; i < o + HW; ++i) {
        T v = x[i] * a + b;
        if (residual) v = v + residual[i];
        f(i, v);
      }
    }
}
}  // namespace

template <class T>
void bn_act_apply(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                  const T* beta, int64_t N, int64_t C, int64_t HW, bool relu, T* y) {
  for_each_act_input(x, residual, mean, invstd, gamma, beta, N, C, HW,
                     [=](int64_t i, T v) { y[i] = relu ? (v > T(0) ? v : T(0)) : v; });
}

template <class T>
void bn_act_mask(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                 const T* beta, int64_t N, int64_t C, int64_t HW, const T* dy, T* dz) {
  for_each_act_input(x, residual, mean, invstd, gamma, beta, N, C, HW,
                     [=](int64_t i, T v) { dz[i] = v > T(0) ? dy[i] : T(0); });
}

#define SPROUT_INSTANTIATE(T)                                                                        \
  template void bn_act_apply<T>(const T*, const T*, const T*, const T*, const T*, const T*, int64_t, \
                                  int64_t, int64_t, bool, T*);                                       \
  template void bn_act_mask<T>(const T*, const T*, const T*, const T*, const T*, const T*, int64_t,   \
                               int64_t, int64_t, const T*, T*);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
