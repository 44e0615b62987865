// BatchNorm followed by an optional residual add and ReLU, on the CPU (float and
// double): the elementwise halves of the fused op in engine/ops/bn_act. Statistics come
// from kernels/cpu/batchnorm.h; these kernels form the output from the kept input (in
// the forward, and again when backward rebuilds it: the same kernel, so the same bits)
// and mask the output gradient, with the per-channel scale a = invstd * gamma and shift
// b = beta - mean * a that the plain BatchNorm kernels use.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// y = act(x * a + b [+ residual]) per channel of x [N, C, HW], rounded as the unfused
// BatchNorm, add and ReLU round it; act is max(., 0) when relu.
template <class T>
void bn_act_apply(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                  const T* beta, int64_t N, int64_t C, int64_t HW, bool relu, T* y);

// dz = dy where act's input x * a + b [+ residual] is positive, else 0 (ReLU's gradient).
template <class T>
void bn_act_mask(const T* x, const T* residual, const T* mean, const T* invstd, const T* gamma,
                 const T* beta, int64_t N, int64_t C, int64_t HW, const T* dy, T* dz);

}  // namespace sprout::kernels::cpu
