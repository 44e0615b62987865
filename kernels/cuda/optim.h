// Fused optimizer updates on the GPU (float32), twins of kernels/cpu/optim.h.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void sgd_update(float* w, const float* g, float* buf, int64_t n, float lr, float momentum,
                float weight_decay, bool nesterov, cudaStream_t s);
void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, float bc1, float bc2, cudaStream_t s);

}  // namespace sprout::kernels::cuda
