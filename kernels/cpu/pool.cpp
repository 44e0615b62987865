// Pooling kernels: one plane per OpenMP iteration, so backward scatters never race.
// Max pooling propagates NaN like PyTorch (a NaN in the window wins).
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
}

template <class T>
void max_pool2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, T* y, int32_t* argmax) {
  int64_t Hout = conv_out_size(H, k, stride, pad), Wout = conv_out_size(W, k, stride, pad);
#pragma omp parallel for schedule(static) if (planes * Hout * Wout * k * k > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * Hout * Wout;
    int32_t* ap = argmax + p * Hout * Wout;
    for (int64_t ho = 0; ho < Hout; ++ho) {
      int64_t h0 = std::max<int64_t>(ho * stride - pad, 0);
      int64_t h1 = std::min<int64_t>(ho * stride - pad + k, H);
      for (int64_t wo = 0; wo < Wout; ++wo) {
        int64_t w0 = std::max<int64_t>(wo * stride - pad, 0);
        int64_t w1 = std::min<int64_t>(wo * stride - pad + k, W);
        int64_t best = h0 * W + w0;
        T bv = xp[best];
        // Branch-free: the first NaN wins (as PyTorch's does), later ones do not replace it.
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const T v = xp[h * W + w];
            const bool take = (v > bv) | ((v != v) & (bv == bv));
            bv = take ? v : bv;
            best = take ? h * W + w : best;
          }
        yp[ho * Wout + wo] = bv;
        ap[ho * Wout + wo] = (int32_t)best;
      }
    }
  }
}

template <class T>
void max_pool2d_backward(const T* dy, const int32_t* argmax, int64_t planes, int64_t H,
                         int64_t W, int64_t Hout, int64_t Wout, T* dx) {
#pragma omp parallel for schedule(static) if (planes * H * W > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    T* dp = dx + p * H * W;
    std::fill(dp, dp + H * W, T(0));
    const T* gp = dy + p * Hout * Wout;
    const int32_t* ap = argmax + p * Hout * Wout;
    for (int64_t i = 0; i < Hout * Wout; ++i) dp[ap[i]] += gp[i];
  }
}

template <class T>
void avg_pool2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, T* y) {
  int64_t Hout = conv_out_size(H, k, stride, pad), Wout = conv_out_size(W, k, stride, pad);
  T inv = T(1) / (T)(k * k);
#pragma omp parallel for schedule(static) if (planes * Hout * Wout * k * k > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * Hout * Wout;
    for (int64_t ho = 0; ho < Hout; ++ho) {
      int64_t h0 = std::max<int64_t>(ho * stride - pad, 0);
      int64_t h1 = std::min<int64_t>(ho * stride - pad + k, H);
      for (int64_t wo = 0; wo < Wout; ++wo) {
        int64_t w0 = std::max<int64_t>(wo * stride - pad, 0);
        int64_t w1 = std::min<int64_t>(wo * stride - pad + k, W);
        T s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += xp[h * W + w];
        yp[ho * Wout + wo] = s * inv;
      }
    }
  }
}

template <class T>
void avg_pool2d_backward(const T* dy, int64_t planes, int64_t H, int64_t W, int64_t k,
                         int64_t stride, int64_t pad, T* dx) {
  int64_t Hout = conv_out_size(H, k, stride, pad), Wout = conv_out_size(W, k, stride, pad);
  T inv = T(1) / (T)(k * k);
#pragma omp parallel for schedule(static) if (planes * Hout * Wout * k * k > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    T* dp = dx + p * H * W;
    std::fill(dp, dp + H * W, T(0));
    const T* gp = dy + p * Hout * Wout;
    for (int64_t ho = 0; ho < Hout; ++ho) {
      int64_t h0 = std::max<int64_t>(ho * stride - pad, 0);
      int64_t h1 = std::min<int64_t>(ho * stride - pad + k, H);
      for (int64_t wo = 0; wo < Wout; ++wo) {
        int64_t w0 = std::max<int64_t>(wo * stride - pad, 0);
        int64_t w1 = std::min<int64_t>(wo * stride - pad + k, W);
        T g = gp[ho * Wout + wo] * inv;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) dp[h * W + w] += g;
      }
    }
  }
}

template <class T>
void global_avg_pool_forward(const T* x, int64_t planes, int64_t HW, T* y) {
#pragma omp parallel for schedule(static) if (planes * HW > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * HW;
    double s = 0;
    for (int64_t i = 0; i < HW; ++i) s += (double)xp[i];
    y[p] = (T)(HW ? s / (double)HW : 0.0);
  }
}

template <class T>
void global_avg_pool_backward(const T* dy, int64_t planes, int64_t HW, T* dx) {
#pragma omp parallel for schedule(static) if (planes * HW > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    T g = dy[p] / (T)HW;
    std::fill(dx + p * HW, dx + (p + 1) * HW, g);
  }
}

#define SPROUT_INSTANTIATE(T)                                                                \
  template void max_pool2d_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, \
                                      int64_t, T*, int32_t*);                                \
  template void max_pool2d_backward<T>(const T*, const int32_t*, int64_t, int64_t, int64_t,  \
                                       int64_t, int64_t, T*);                                \
  template void avg_pool2d_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, \
                                      int64_t, T*);                                          \
  template void avg_pool2d_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t,\
                                       int64_t, T*);                                         \
  template void global_avg_pool_forward<T>(const T*, int64_t, int64_t, T*);                  \
  template void global_avg_pool_backward<T>(const T*, int64_t, int64_t, T*);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
