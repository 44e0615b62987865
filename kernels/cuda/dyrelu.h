// DyReLU-B CUDA kernels (float32), the twins of kernels/cpu/dyrelu.h.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void dyrelu_forward(const float* x, const float* theta, float beta, float* y, int64_t n, int64_t channels,
                    int64_t inner, cudaStream_t s);
// dx or dtheta may be null.
void dyrelu_backward(const float* x, const float* theta, float beta, const float* dy, float* dx, float* dtheta,
                     int64_t n, int64_t channels, int64_t inner, cudaStream_t s);

}  // namespace sprout::kernels::cuda
