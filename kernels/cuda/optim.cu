// SGD and AdamW as single fused kernels over the parameter's values.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/optim.h"

namespace sprout::kernels::cuda {

namespace {
__global__ void sgd_k(float* w, const float* g, float* buf, int64_t n, float lr, float mom,
                      float wd, bool nesterov) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float d = g[i] + wd * w[i];
    if (buf) {
      float b = mom * buf[i] + d;
      buf[i] = b;
      d = nesterov ? d + mom * b : b;
    }
    w[i] -= lr * d;
  }
}
__global__ void adamw_k(float* w, const float* g, float* m, float* v, int64_t n, float lr,
                        float b1, float b2, float eps, float wd, float bc1, float bc2) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float wi = w[i] - lr * wd * w[i];
    float mi = b1 * m[i] + (1.f - b1) * g[i];
    float vi = b2 * v[i] + (1.f - b2) * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
  }
}
}  // namespace

void sgd_update(float* w, const float* g, float* buf, int64_t n, float lr, float mom, float wd,
                bool nesterov, cudaStream_t s) {
  if (n == 0) return;
  sgd_k<<<blocks_for(n, 256), 256, 0, s>>>(w, g, buf, n, lr, mom, wd, nesterov);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1,
                  float b2, float eps, float wd, float bc1, float bc2, cudaStream_t s) {
  if (n == 0) return;
  adamw_k<<<blocks_for(n, 256), 256, 0, s>>>(w, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
