// Elementwise CUDA kernels (float32), the twins of kernels/cpu/elementwise.h.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void add(const float* a, const float* b, float* out, int64_t n, cudaStream_t s);
void axpy(float alpha, const float* x, float* y, int64_t n, cudaStream_t s);
void mul(const float* a, const float* b, float* out, int64_t n, cudaStream_t s);
void scale(const float* a, float k, float* out, int64_t n, cudaStream_t s);
void add_bias(const float* x, const float* bias, float* out, int64_t outer, int64_t channels,
              int64_t inner, cudaStream_t s);
void bias_grad(const float* dy, float* db, int64_t outer, int64_t channels, int64_t inner,
               cudaStream_t s);
void relu(const float* x, float* y, int64_t n, cudaStream_t s);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n, cudaStream_t s);
// out[0] = sum of x (device scalar; no host sync).
void sum(const float* x, float* out, int64_t n, cudaStream_t s);
void fill(float* x, float v, int64_t n, cudaStream_t s);
// out[i] = factor * scalar[0], reading the scalar on the device.
void fill_scaled(const float* scalar, float factor, float* out, int64_t n, cudaStream_t s);

}  // namespace sprout::kernels::cuda
