// The fused BatchNorm + (add) + ReLU's activation input on the GPU, shared by its
// elementwise kernels and the masked BatchNorm backward: products and sums as separate
// roundings (__fmul_rn, __fadd_rn), as on the CPU, whatever the compiler would contract,
// so every kernel's ReLU mask agrees with the output bit for bit.
#pragma once
#include <cstdint>

namespace sprout::kernels::cuda {

__device__ __forceinline__ float bn_act_input(const float* x, const float* residual, const float* mean,
                                              const float* invstd, const float* gamma, const float* beta,
                                              int64_t c, int64_t i) {
  float a = __fmul_rn(invstd[c], gamma ? gamma[c] : 1.f);
  float b = __fsub_rn(beta ? beta[c] : 0.f, __fmul_rn(mean[c], a));
  float v = __fadd_rn(__fmul_rn(x[i], a), b);
  return residual ? __fadd_rn(v, residual[i]) : v;
}

}  // namespace sprout::kernels::cuda
