// 2-D pooling on the GPU (float32), the twin of kernels/cpu/pool.h. Backward passes
// gather per input element instead of scattering, so they need no atomics.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void max_pool2d_forward(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, float* y, int32_t* argmax, cudaStream_t s);
void max_pool2d_backward(const float* dy, const int32_t* argmax, int64_t planes, int64_t H,
                         int64_t W, int64_t k, int64_t stride, int64_t pad, float* dx,
                         cudaStream_t s);
void avg_pool2d_forward(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, float* y, cudaStream_t s);
void avg_pool2d_backward(const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k,
                         int64_t stride, int64_t pad, float* dx, cudaStream_t s);
void global_avg_pool_forward(const float* x, int64_t planes, int64_t HW, float* y,
                             cudaStream_t s);
void global_avg_pool_backward(const float* dy, int64_t planes, int64_t HW, float* dx,
                              cudaStream_t s);

}  // namespace sprout::kernels::cuda
