// Softmax cross-entropy on the GPU: one warp per row (classes strided over lanes),
// log-sum-exp in float with warp shuffles.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/loss.h"

namespace sprout::kernels::cuda {

namespace {

__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// A label outside [0, c) gives the row a NaN loss and its row in *bad (the lowest).
__global__ void xent_fwd_k(const float* x, const int32_t* labels, int64_t n, int64_t c,
                           float eps, float* probs, float* row_loss, unsigned long long* bad) {
  int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= n) return;
  const float* xr = x + row * c;
  float mx = -INFINITY;
  for (int64_t j = lane; j < c; j += 32) mx = fmaxf(mx, xr[j]);
  mx = warp_max(mx);
  float s = 0.f, sum_x = 0.f;
  for (int64_t j = lane; j < c; j += 32) { s += __expf(xr[j] - mx); sum_x += xr[j]; }
  s = warp_sum(s);
  sum_x = warp_sum(sum_x);
  float lse = logf(s) + mx;
  for (int64_t j = lane; j < c; j += 32) probs[row * c + j] = __expf(xr[j] - lse);
  if (lane == 0) {
    const int32_t label = labels[row];
    if (label < 0 || label >= c) {
      row_loss[row] = NAN;
      atomicMin(bad, (unsigned long long)row);
      return;
    }
    float mean_logp = sum_x / (float)c - lse;
    row_loss[row] = -(1.f - eps) * (xr[label] - lse) - eps * mean_logp;
  }
}

__global__ void xent_bwd_k(const float* probs, const int32_t* labels, int64_t n, int64_t c,
                           float eps, const float* scale_dev, float* dx) {
  float scale = scale_dev[0] / (float)n, off = eps / (float)c;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * c;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / c, j = i % c;
    float target = off + (j == labels[r] ? 1.f - eps : 0.f);
    dx[i] = (probs[i] - target) * scale;
  }
}

__global__ void correct_k(const float* x, const int32_t* labels, int64_t n, int64_t c, int k,
                          unsigned long long* correct) {
  int64_t row = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (row >= n) return;
  const float* xr = x + row * c;
  if (labels[row] < 0 || labels[row] >= c) return;
  float v = xr[labels[row]];
  int64_t above = 0;
  for (int64_t j = 0; j < c; ++j) above += xr[j] > v;
  if (above < k) atomicAdd(correct, 1ull);
}

}  // namespace

void softmax_xent_forward(const float* x, const int32_t* labels, int64_t n, int64_t c,
                          float eps, float* probs, float* row_loss, unsigned long long* bad, cudaStream_t s) {
  if (n == 0) return;
  int rows_per_block = 8;
  xent_fwd_k<<<(unsigned)((n + rows_per_block - 1) / rows_per_block), rows_per_block * 32, 0, s>>>(
      x, labels, n, c, eps, probs, row_loss, bad);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void softmax_xent_backward(const float* probs, const int32_t* labels, int64_t n, int64_t c,
                           float eps, const float* scale_dev, float* dx, cudaStream_t s) {
  if (n == 0) return;
  xent_bwd_k<<<blocks_for(n * c, 256), 256, 0, s>>>(probs, labels, n, c, eps, scale_dev, dx);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void count_correct(const float* x, const int32_t* labels, int64_t n, int64_t c, int k,
                   int64_t* correct, cudaStream_t s) {
  if (n == 0) return;
  correct_k<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(x, labels, n, c, k,
                                                       reinterpret_cast<unsigned long long*>(correct));
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
