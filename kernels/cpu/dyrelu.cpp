// DyReLU-B kernels: one (sample, channel) row per iteration, parallel over rows.
#include "kernels/cpu/dyrelu.h"

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
}

template <class T>
void dyrelu_forward(const T* x, const T* theta, T beta, T* y, int64_t n, int64_t channels, int64_t inner) {
  const int64_t rows = n * channels;
#pragma omp parallel for if (rows * inner > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    T c[4];
    dyrelu_coefs<T>(theta + r * 4, beta, c, nullptr);
    const T* xp = x + r * inner;
    T* yp = y + r * inner;
    for (int64_t i = 0; i < inner; ++i) {
      T v1 = c[0] * xp[i] + c[2], v2 = c[1] * xp[i] + c[3];
      yp[i] = v1 >= v2 ? v1 : v2;
    }
  }
}

template <class T>
void dyrelu_backward(const T* x, const T* theta, T beta, const T* dy, T* dx, T* dtheta, int64_t n,
                     int64_t channels, int64_t inner) {
  const int64_t rows = n * channels;
#pragma omp parallel for if (rows * inner > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    T c[4], dc[4];
    dyrelu_coefs<T>(theta + r * 4, beta, c, dc);
    const T* xp = x + r * inner;
    const T* gp = dy + r * inner;
    T ga[2] = {T(0), T(0)}, gb[2] = {T(0), T(0)};
    for (int64_t i = 0; i < inner; ++i) {
      T v1 = c[0] * xp[i] + c[2], v2 = c[1] * xp[i] + c[3];
      int k = v1 >= v2 ? 0 : 1;
      if (dx) dx[r * inner + i] = gp[i] * c[k];
      ga[k] += gp[i] * xp[i];
      gb[k] += gp[i];
    }
    if (dtheta) {
      T* dt = dtheta + r * 4;
      dt[0] = ga[0] * dc[0];
      dt[1] = ga[1] * dc[1];
      dt[2] = gb[0] * dc[2];
      dt[3] = gb[1] * dc[3];
    }
  }
}

template void dyrelu_forward<float>(const float*, const float*, float, float*, int64_t, int64_t, int64_t);
template void dyrelu_forward<double>(const double*, const double*, double, double*, int64_t, int64_t, int64_t);
template void dyrelu_backward<float>(const float*, const float*, float, const float*, float*, float*, int64_t,
                                     int64_t, int64_t);
template void dyrelu_backward<double>(const double*, const double*, double, const double*, double*, double*,
                                      int64_t, int64_t, int64_t);

}  // namespace sprout::kernels::cpu
