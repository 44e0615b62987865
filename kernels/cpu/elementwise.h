// Elementwise CPU kernels (OpenMP) on raw pointers, for float and double.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

template <class T> void add(const T* a, const T* b, T* out, int64_t n);
template <class T> void axpy(T alpha, const T* x, T* y, int64_t n);  // y += alpha x
template <class T> void mul(const T* a, const T* b, T* out, int64_t n);
template <class T> void scale(const T* a, T s, T* out, int64_t n);
// out[n, c, i] = x[n, c, i] + bias[c] for x laid out [outer, channels, inner].
template <class T> void add_bias(const T* x, const T* bias, T* out, int64_t outer, int64_t channels, int64_t inner);
// db[c] = sum over outer and inner of dy[n, c, i].
template <class T> void bias_grad(const T* dy, T* db, int64_t outer, int64_t channels, int64_t inner);
template <class T> void relu(const T* x, T* y, int64_t n);
template <class T> void relu_backward(const T* y, const T* dy, T* dx, int64_t n);
template <class T> double sum(const T* x, int64_t n);

}  // namespace sprout::kernels::cpu
