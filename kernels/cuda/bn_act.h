// The fused BatchNorm + (add) + ReLU's elementwise kernels on the GPU (float32), the
// twins of kernels/cpu/bn_act.h: same arguments, same per-channel scale and shift.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void bn_act_apply(const float* x, const float* residual, const float* mean, const float* invstd,
                    const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, bool relu,
                    float* y, cudaStream_t s);
void bn_act_mask(const float* x, const float* residual, const float* mean, const float* invstd,
                 const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, const float* dy,
                 float* dz, cudaStream_t s);

}  // namespace sprout::kernels::cuda
