// Pooling kernels: one plane per OpenMP iteration, so backward scatters never race.
// Max pooling propagates NaN like PyTorch (a NaN in the window wins).
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;

// One output row of a max-pooling plane, kWoChunk outputs at a time: each window offset
// is one loop over the outputs whose windows lie inside the row, with selects and no
// branch, so it vectorizes (the few at the edges check their bounds). Each maximum starts
// at -inf with the window's first element as its argmax, so that element stays the argmax
// until a larger value or the first NaN replaces it, as in a scan from the first element.
constexpr int64_t kWoChunk = 128;

template <class T>
void max_pool_row(const T* xp, int64_t H, int64_t W, int64_t k, int64_t stride, int64_t pad, int64_t ho,
                  int64_t Wout, T* yr, int32_t* ar) {
  const int64_t h0 = std::max<int64_t>(ho * stride - pad, 0), h1 = std::min<int64_t>(ho * stride - pad + k, H);
  T bv[kWoChunk];
  int32_t best[kWoChunk];
  for (int64_t c0 = 0; c0 < Wout; c0 += kWoChunk) {
    const int64_t n = std::min(kWoChunk, Wout - c0);
    for (int64_t i = 0; i < n; ++i) {
      bv[i] = -std::numeric_limits<T>::infinity();
      best[i] = (int32_t)(h0 * W + std::max<int64_t>((c0 + i) * stride - pad, 0));
    }
    // Outputs [lo, hi) of the chunk have their whole window inside the row.
    int64_t lo = 0, hi = n;
    while (lo < n && (c0 + lo) * stride - pad < 0) ++lo;
    while (hi > lo && (c0 + hi - 1) * stride - pad + k > W) --hi;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t dw = 0; dw < k; ++dw) {
        const T* row = xp + h * W;
        const int64_t off = dw - pad;
        const int32_t base = (int32_t)(h * W + off);
        auto update = [&](int64_t i, T v, int32_t at) {
          const bool take = (v > bv[i]) | ((v != v) & (bv[i] == bv[i]));
          bv[i] = take ? v : bv[i];
          best[i] = take ? at : best[i];
        };
        auto edge = [&](int64_t i) {
          const int64_t w = (c0 + i) * stride - pad + dw;
          if (w >= 0 && w < W) update(i, row[w], (int32_t)(h * W + w));
        };
        for (int64_t i = 0; i < lo; ++i) edge(i);
        for (int64_t i = lo; i < hi; ++i) update(i, row[(c0 + i) * stride + off], base + (int32_t)((c0 + i) * stride));
        for (int64_t i = hi; i < n; ++i) edge(i);
      }
    for (int64_t i = 0; i < n; ++i) {
      yr[c0 + i] = bv[i];
      ar[c0 + i] = best[i];
    }
  }
}

// A 1x1 window without padding (a strided 1x1 convolution's input): every stride-th
// element of every stride-th row, and back. The same values the general loop gives
// (x * 1, and 0 + g), one pass without window bounds.
template <class T>
void subsample_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t s, int64_t Hout, int64_t Wout,
                       T* y) {
#pragma omp parallel for schedule(static) if (planes * Hout * Wout > kParallelMin)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t ho = 0; ho < Hout; ++ho) {
      const T* __restrict xr = x + (p * H + ho * s) * W;
      T* __restrict yr = y + (p * Hout + ho) * Wout;
      for (int64_t wo = 0; wo < Wout; ++wo) yr[wo] = xr[wo * s];
    }
}

template <class T>
void subsample_backward(const T* dy, int64_t planes, int64_t H, int64_t W, int64_t s, int64_t Hout,
                        int64_t Wout, T* dx) {
#pragma omp parallel for schedule(static) if (planes * H * W > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    T* dp = dx + p * H * W;
    std::fill(dp, dp + H * W, T(0));
    for (int64_t ho = 0; ho < Hout; ++ho) {
      const T* __restrict gr = dy + (p * Hout + ho) * Wout;
      T* __restrict dr = dp + ho * s * W;
      for (int64_t wo = 0; wo < Wout; ++wo) dr[wo * s] = T(0) + gr[wo];
    }
  }
}
}  // namespace

template <class T>
void max_pool2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, T* y, int32_t* argmax) {
  int64_t Hout = conv_out_size(H, k, stride, pad), Wout = conv_out_size(W, k, stride, pad);
#pragma omp parallel for schedule(static) if (planes * Hout * Wout * k * k > kParallelMin)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t ho = 0; ho < Hout; ++ho)
      max_pool_row(x + p * H * W, H, W, k, stride, pad, ho, Wout, y + p * Hout * Wout + ho * Wout,
                   argmax + p * Hout * Wout + ho * Wout);
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
  if (k == 1 && pad == 0) return subsample_forward(x, planes, H, W, stride, Hout, Wout, y);
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
  if (k == 1 && pad == 0) return subsample_backward(dy, planes, H, W, stride, Hout, Wout, dx);
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
