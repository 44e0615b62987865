// The fused BatchNorm + (add) + ReLU's elementwise kernels: grid-stride loops over
// N*C*HW values, each reading its channel's scale and shift (bn_act.cuh: rounded as on
// the CPU, so the mask agrees with the output bit for bit).
#include "kernels/cuda/bn_act.h"
#include "kernels/cuda/bn_act.cuh"
#include "kernels/cuda/check.cuh"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void apply_k(const float* x, const float* residual, const float* mean, const float* invstd,
                          const float* gamma, const float* beta, int64_t C, int64_t HW, bool relu, float* y,
                          int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = bn_act_input(x, residual, mean, invstd, gamma, beta, (i / HW) % C, i);
    y[i] = relu ? (v > 0.f ? v : 0.f) : v;
  }
}

__global__ void mask_k(const float* x, const float* residual, const float* mean, const float* invstd,
                       const float* gamma, const float* beta, int64_t C, int64_t HW, const float* dy, float* dz,
                       int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dz[i] = bn_act_input(x, residual, mean, invstd, gamma, beta, (i / HW) % C, i) > 0.f ? dy[i] : 0.f;
}

}  // namespace

void bn_act_apply(const float* x, const float* residual, const float* mean, const float* invstd,
                    const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, bool relu,
                    float* y, cudaStream_t s) {
  const int64_t n = N * C * HW;
  SPROUT_LAUNCH_1D(apply_k, n, kThreads, s, x, residual, mean, invstd, gamma, beta, C, HW, relu, y, n);
}

void bn_act_mask(const float* x, const float* residual, const float* mean, const float* invstd,
                 const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, const float* dy,
                 float* dz, cudaStream_t s) {
  const int64_t n = N * C * HW;
  SPROUT_LAUNCH_1D(mask_k, n, kThreads, s, x, residual, mean, invstd, gamma, beta, C, HW, dy, dz, n);
}

}  // namespace sprout::kernels::cuda
