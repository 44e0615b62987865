// Elementwise kernels of the fused BatchNorm + (add) + ReLU. One OpenMP iteration per
// (image, channel) plane; the scale and shift are formed exactly as bn_forward_train
// forms them, so the fused output equals the unfused one bit for bit. Each plane's loop
// has no branch on the residual or the activation inside it, so the compiler vectorizes it.
#include "kernels/cpu/bn_act.h"

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;

template <class T>
inline T relu_of(T v) { return v > T(0) ? v : T(0); }

// Calls plane(o, a, b) for every (image, channel) plane starting at element o, with the
// channel's scale a and shift b.
template <class T, class F>
void for_each_plane(const T* mean, const T* invstd, const T* gamma, const T* beta, int64_t N, int64_t C,
                    int64_t HW, F plane) {
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T a = invstd[c] * (gamma ? gamma[c] : T(1));
      const T b = (beta ? beta[c] : T(0)) - mean[c] * a;
      plane((n * C + c) * HW, a, b);
    }
}
}  // namespace

template <class T>
void bn_act_apply(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                  const T* beta, int64_t N, int64_t C, int64_t HW, bool relu, T* y) {
  for_each_plane(mean, invstd, gamma, beta, N, C, HW, [=](int64_t o, T a, T b) {
    const T* __restrict p = x + o;
    T* __restrict q = y + o;
    if (residual) {
      const T* __restrict r = residual + o;
      if (relu)
        for (int64_t i = 0; i < HW; ++i) q[i] = relu_of((p[i] * a + b) + r[i]);
      else
        for (int64_t i = 0; i < HW; ++i) q[i] = (p[i] * a + b) + r[i];
    } else if (relu) {
      for (int64_t i = 0; i < HW; ++i) q[i] = relu_of(p[i] * a + b);
    } else {
      for (int64_t i = 0; i < HW; ++i) q[i] = p[i] * a + b;
    }
  });
}

template <class T>
void bn_act_mask(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                 const T* beta, int64_t N, int64_t C, int64_t HW, const T* dy, T* dz) {
  for_each_plane(mean, invstd, gamma, beta, N, C, HW, [=](int64_t o, T a, T b) {
    const T* __restrict p = x + o;
    const T* __restrict g = dy + o;
    T* __restrict q = dz + o;
    if (residual) {
      const T* __restrict r = residual + o;
      for (int64_t i = 0; i < HW; ++i) {
        const T gi = g[i];  // loaded unconditionally, so the select vectorizes
        q[i] = (p[i] * a + b) + r[i] > T(0) ? gi : T(0);
      }
    } else {
      for (int64_t i = 0; i < HW; ++i) {
        const T gi = g[i];
        q[i] = p[i] * a + b > T(0) ? gi : T(0);
      }
    }
  });
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
