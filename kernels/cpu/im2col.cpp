// im2col / col2im on the CPU. Both work one channel plane at a time: the valid output
// range of each kernel offset is computed once, so the inner loops carry no bounds
// tests. Planes are independent, which makes the OpenMP split over them race-free.
#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace sprout::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 14;

// Output positions o in [lo, hi) read input index o*stride - pad + off inside [0, n).
inline void valid_range(int64_t n, int64_t out, int64_t stride, int64_t pad, int64_t off,
                        int64_t* lo, int64_t* hi) {
  int64_t first = pad - off;  // o*stride >= first
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  int64_t last = n - 1 + pad - off;  // o*stride <= last
  *hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  if (*lo > *hi) *lo = *hi;
}

// Writes the kh*kw rows of one channel; row (i, j) starts at dst + (i*kw + j)*ld.
template <class T>
void unfold_plane(const T* plane, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride,
                  int64_t pad, int64_t Hout, int64_t Wout, T* dst, int64_t ld) {
  for (int64_t i = 0; i < kh; ++i) {
    int64_t ho_lo, ho_hi;
    valid_range(H, Hout, stride, pad, i, &ho_lo, &ho_hi);
    for (int64_t j = 0; j < kw; ++j) {
      int64_t wo_lo, wo_hi;
      valid_range(W, Wout, stride, pad, j, &wo_lo, &wo_hi);
      T* row = dst + (i * kw + j) * ld;
      std::fill(row, row + ho_lo * Wout, T(0));
      for (int64_t ho = ho_lo; ho < ho_hi; ++ho) {
        T* r = row + ho * Wout;
        const T* src = plane + (ho * stride - pad + i) * W;
        int64_t shift = j - pad;  // input column of output column wo: wo*stride + shift
        std::fill(r, r + wo_lo, T(0));
        if (stride == 1) {
          std::memcpy(r + wo_lo, src + wo_lo + shift, (size_t)(wo_hi - wo_lo) * sizeof(T));
        } else {
          for (int64_t wo = wo_lo; wo < wo_hi; ++wo) r[wo] = src[wo * stride + shift];
        }
        std::fill(r + wo_hi, r + Wout, T(0));
      }
      std::fill(row + ho_hi * Wout, row + Hout * Wout, T(0));
    }
  }
}

// plane += fold of the kh*kw rows starting at src (row stride ld).
template <class T>
void fold_plane(const T* src, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride,
                int64_t pad, int64_t Hout, int64_t Wout, int64_t ld, T* plane) {
  for (int64_t i = 0; i < kh; ++i) {
    int64_t ho_lo, ho_hi;
    valid_range(H, Hout, stride, pad, i, &ho_lo, &ho_hi);
    for (int64_t j = 0; j < kw; ++j) {
      int64_t wo_lo, wo_hi;
      valid_range(W, Wout, stride, pad, j, &wo_lo, &wo_hi);
      const T* row = src + (i * kw + j) * ld;
      for (int64_t ho = ho_lo; ho < ho_hi; ++ho) {
        const T* r = row + ho * Wout;
        T* p = plane + (ho * stride - pad + i) * W;
        int64_t shift = j - pad;
        for (int64_t wo = wo_lo; wo < wo_hi; ++wo) p[wo * stride + shift] += r[wo];
      }
    }
  }
}

}  // namespace

template <class T>
void im2col(const T* img, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
            int64_t stride, int64_t pad, T* cols) {
  im2col_batch(img, 1, C, H, W, kh, kw, stride, pad, cols);
}

template <class T>
void col2im(const T* cols, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
            int64_t stride, int64_t pad, T* img) {
  col2im_batch(cols, 1, C, H, W, kh, kw, stride, pad, img);
}

template <class T>
void im2col_batch(const T* imgs, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, T* cols) {
  int64_t Hout = conv_out_size(H, kh, stride, pad), Wout = conv_out_size(W, kw, stride, pad);
  if (Hout <= 0 || Wout <= 0) return;
  int64_t hw_out = Hout * Wout, ld = N * hw_out;
#pragma omp parallel for collapse(2) schedule(static) if (N * C * kh * kw * hw_out > kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      unfold_plane(imgs + (n * C + c) * H * W, H, W, kh, kw, stride, pad, Hout, Wout,
                   cols + c * kh * kw * ld + n * hw_out, ld);
}

template <class T>
void col2im_batch(const T* cols, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, T* imgs) {
  int64_t Hout = conv_out_size(H, kh, stride, pad), Wout = conv_out_size(W, kw, stride, pad);
  if (Hout <= 0 || Wout <= 0) return;
  int64_t hw_out = Hout * Wout, ld = N * hw_out;
#pragma omp parallel for collapse(2) schedule(static) if (N * C * kh * kw * hw_out > kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      fold_plane(cols + c * kh * kw * ld + n * hw_out, H, W, kh, kw, stride, pad, Hout, Wout,
                 ld, imgs + (n * C + c) * H * W);
}

template <class T>
void cnhw_to_nchw(const T* src, const T* bias, int64_t N, int64_t O, int64_t HW, T* dst) {
#pragma omp parallel for collapse(2) schedule(static) if (N * O * HW > kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const T* s = src + o * N * HW + n * HW;
      T* d = dst + (n * O + o) * HW;
      T b = bias ? bias[o] : T(0);
      for (int64_t p = 0; p < HW; ++p) d[p] = s[p] + b;
    }
}

template <class T>
void nchw_to_cnhw(const T* src, int64_t N, int64_t O, int64_t HW, T* dst) {
#pragma omp parallel for collapse(2) schedule(static) if (N * O * HW > kParallelMin)
  for (int64_t o = 0; o < O; ++o)
    for (int64_t n = 0; n < N; ++n)
      std::memcpy(dst + o * N * HW + n * HW, src + (n * O + o) * HW, (size_t)HW * sizeof(T));
}

#define SPROUT_INSTANTIATE(T)                                                                  \
  template void im2col<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,      \
                          int64_t, T*);                                                        \
  template void col2im<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,      \
                          int64_t, T*);                                                        \
  template void im2col_batch<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t,         \
                                int64_t, int64_t, int64_t, T*);                                \
  template void col2im_batch<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t,         \
                                int64_t, int64_t, int64_t, T*);                                \
  template void cnhw_to_nchw<T>(const T*, const T*, int64_t, int64_t, int64_t, T*);            \
  template void nchw_to_cnhw<T>(const T*, int64_t, int64_t, int64_t, T*);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
