// DyReLU-B CUDA kernels: forward one thread per element; backward one thread per
// (sample, channel) row, which also sums that row's coefficient gradients (rows are
// H*W long at most, so no atomics are needed).
#include "kernels/cpu/dyrelu.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/dyrelu.h"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void dyrelu_fw_k(const float* x, const float* theta, float beta, float* y, int64_t n,
                            int64_t inner) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float c[4];
    kernels::dyrelu_coefs<float>(theta + (i / inner) * 4, beta, c, nullptr);
    float v1 = c[0] * x[i] + c[2], v2 = c[1] * x[i] + c[3];
    y[i] = v1 >= v2 ? v1 : v2;
  }
}

__global__ void dyrelu_bw_k(const float* x, const float* theta, float beta, const float* dy, float* dx,
                            float* dtheta, int64_t rows, int64_t inner) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x) {
    float c[4], dc[4];
    kernels::dyrelu_coefs<float>(theta + r * 4, beta, c, dc);
    float ga[2] = {0.f, 0.f}, gb[2] = {0.f, 0.f};
    for (int64_t i = 0; i < inner; ++i) {
      int64_t e = r * inner + i;
      float v1 = c[0] * x[e] + c[2], v2 = c[1] * x[e] + c[3];
      int k = v1 >= v2 ? 0 : 1;
      if (dx) dx[e] = dy[e] * c[k];
      ga[k] += dy[e] * x[e];
      gb[k] += dy[e];
    }
    if (dtheta) {
      dtheta[r * 4 + 0] = ga[0] * dc[0];
      dtheta[r * 4 + 1] = ga[1] * dc[1];
      dtheta[r * 4 + 2] = gb[0] * dc[2];
      dtheta[r * 4 + 3] = gb[1] * dc[3];
    }
  }
}
}  // namespace

void dyrelu_forward(const float* x, const float* theta, float beta, float* y, int64_t n, int64_t channels,
                    int64_t inner, cudaStream_t s) {
  int64_t total = n * channels * inner;
  if (total == 0) return;
  dyrelu_fw_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(x, theta, beta, y, total, inner);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void dyrelu_backward(const float* x, const float* theta, float beta, const float* dy, float* dx, float* dtheta,
                     int64_t n, int64_t channels, int64_t inner, cudaStream_t s) {
  int64_t rows = n * channels;
  if (rows == 0) return;
  dyrelu_bw_k<<<blocks_for(rows, kThreads), kThreads, 0, s>>>(x, theta, beta, dy, dx, dtheta, rows, inner);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
