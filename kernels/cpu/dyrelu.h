// DyReLU-B kernels (CPU, float and double): y = max(a1 x + b1, a2 x + b2) per sample
// and channel, the coefficients computed from the hyper-network's raw output theta
// and the phasing blend beta. The coefficient formula is SPROUT_HD so the CUDA
// kernels use exactly this code.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace sprout::kernels {

// exp in the coefficient's own precision on either compiler.
#ifdef __CUDACC__
SPROUT_HD inline float dyrelu_exp(float v) { return expf(v); }
SPROUT_HD inline double dyrelu_exp(double v) { return exp(v); }
#else
inline float dyrelu_exp(float v) { return std::exp(v); }
inline double dyrelu_exp(double v) { return std::exp(v); }
#endif

// theta holds 4 raw values per (sample, channel) for (a1, a2, b1, b2). DyReLU-B maps
// them through 2 sigmoid - 1, scales by (1, 1, 0.5, 0.5) and offsets by (1, 0, 0, 0);
// the blend with ReLU's coefficients (1, 0, 0, 0) under beta leaves
// c_j = offset_j + beta scale_j (2 sigmoid(theta_j) - 1). dcoef[j] = dc_j / dtheta_j.
template <class T>
SPROUT_HD inline void dyrelu_coefs(const T* theta, T beta, T* coef, T* dcoef) {
  const T scale[4] = {T(1), T(1), T(0.5), T(0.5)};
  const T offset[4] = {T(1), T(0), T(0), T(0)};
  for (int j = 0; j < 4; ++j) {
    T s = T(1) / (T(1) + dyrelu_exp(-theta[j]));
    coef[j] = offset[j] + beta * scale[j] * (T(2) * s - T(1));
    if (dcoef) dcoef[j] = beta * scale[j] * T(2) * s * (T(1) - s);
  }
}

}  // namespace sprout::kernels

namespace sprout::kernels::cpu {

// x, y: [n, channels, inner]; theta: [n, channels, 4].
template <class T>
void dyrelu_forward(const T* x, const T* theta, T beta, T* y, int64_t n, int64_t channels, int64_t inner);
// dx: [n, channels, inner] (skipped when null); dtheta: [n, channels, 4] (skipped when
// null). The active piece is the one forward picked (ties go to the first).
template <class T>
void dyrelu_backward(const T* x, const T* theta, T beta, const T* dy, T* dx, T* dtheta, int64_t n,
                     int64_t channels, int64_t inner);

}  // namespace sprout::kernels::cpu
