// Elementwise CPU kernels. Large loops split over OpenMP threads.
#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <vector>

namespace sprout::kernels::cpu {

constexpr int64_t kParallelMin = 1 << 15;

template <class T> void add(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <class T> void axpy(T alpha, const T* x, T* y, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <class T> void mul(const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

template <class T> void scale(const T* a, T s, T* out, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * s;
}

template <class T>
void add_bias(const T* x, const T* bias, T* out, int64_t outer, int64_t channels, int64_t inner) {
  if (inner == 1) {  // [N, C] rows: vectorise over channels
#pragma omp parallel for if (outer * channels > kParallelMin)
    for (int64_t o = 0; o < outer; ++o) {
      const T* xp = x + o * channels;
      T* yp = out + o * channels;
      for (int64_t c = 0; c < channels; ++c) yp[c] = xp[c] + bias[c];
    }
    return;
  }
#pragma omp parallel for collapse(2) if (outer * channels * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const T* xp = x + (o * channels + c) * inner;
      T* yp = out + (o * channels + c) * inner;
      T b = bias[c];
      for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] + b;
    }
}

template <class T>
void bias_grad(const T* dy, T* db, int64_t outer, int64_t channels, int64_t inner) {
  if (inner == 1) {  // column sums of [N, C], row by row so the inner loop is contiguous
    for (int64_t c = 0; c < channels; ++c) db[c] = T(0);
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = dy + o * channels;
      for (int64_t c = 0; c < channels; ++c) db[c] += p[c];
    }
    return;
  }
#pragma omp parallel for if (outer * channels * inner > kParallelMin)
  for (int64_t c = 0; c < channels; ++c) {
    T s = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = dy + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) s += p[i];
    }
    db[c] = s;
  }
}

template <class T> void relu(const T* x, T* y, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T> void relu_backward(const T* y, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const T g = dy[i];  // loaded unconditionally, so the select vectorizes
    dx[i] = y[i] > T(0) ? g : T(0);
  }
}

// Fixed chunks summed in parallel, then in order: the same bits on any thread count.
template <class T> double sum(const T* x, int64_t n) {
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) {  // one chunk: its sum, without the partials
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += (double)x[i];
    return s;
  }
  std::vector<double> part((size_t)chunks);
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    double s = 0;
    for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) s += (double)x[i];
    part[(size_t)c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return s;
}

#define SPROUT_INSTANTIATE(T)                                                         \
  template void add<T>(const T*, const T*, T*, int64_t);                              \
  template void axpy<T>(T, const T*, T*, int64_t);                                    \
  template void mul<T>(const T*, const T*, T*, int64_t);                              \
  template void scale<T>(const T*, T, T*, int64_t);                                   \
  template void add_bias<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);       \
  template void bias_grad<T>(const T*, T*, int64_t, int64_t, int64_t);                \
  template void relu<T>(const T*, T*, int64_t);                                       \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);                    \
  template double sum<T>(const T*, int64_t);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
