// Gate CUDA kernels (float32), the twins of kernels/cpu/gate.h. Regularizer values
// stay on the device (a one-element output), so a training step never syncs for them.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void channel_mul(const float* x, const float* w, float* y, int64_t outer, int64_t channels, int64_t inner,
                 int64_t units, cudaStream_t s);
// dx or dw may be null.
void channel_mul_backward(const float* x, const float* dy, const float* w, float* dx, float* dw, int64_t outer,
                          int64_t channels, int64_t inner, int64_t units, cudaStream_t s);
void hard_gate(const float* z, float* b, int64_t n, cudaStream_t s);
void gate_logit_grad(const float* z, const float* db, float* dz, int64_t n, cudaStream_t s);
void polarization(const float* z, int64_t n, float t, float* out, cudaStream_t s);
// g: the one-element output gradient, read on the device.
void polarization_backward(const float* z, int64_t n, float t, const float* g, float* dz, cudaStream_t s);
void density_penalty(const float* z, int64_t n, float d, float* out, cudaStream_t s);
void density_penalty_backward(const float* z, int64_t n, float d, const float* g, float* dz, cudaStream_t s);

}  // namespace sprout::kernels::cuda
