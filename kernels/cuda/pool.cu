// Pooling on the GPU: one thread per output element forward; backward gathers, one
// thread per input element summing the windows that cover it (no atomics).
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pool.h"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 256;

// Output windows along one axis that contain input index h: [*lo, *hi).
__device__ __forceinline__ void covering(int64_t h, int64_t k, int64_t stride, int64_t pad,
                                         int64_t out, int64_t* lo, int64_t* hi) {
  int64_t t = h + pad - k + 1;  // o*stride >= t
  *lo = t <= 0 ? 0 : (t + stride - 1) / stride;
  int64_t last = (h + pad) / stride;  // o*stride <= h + pad
  *hi = last + 1 < out ? last + 1 : out;
}

__global__ void max_fwd_k(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                          int64_t stride, int64_t pad, int64_t Hout, int64_t Wout, float* y,
                          int32_t* argmax) {
  int64_t total = planes * Hout * Wout;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t wo = idx % Wout, ho = (idx / Wout) % Hout, p = idx / (Hout * Wout);
    const float* xp = x + p * H * W;
    int64_t h0 = max(ho * stride - pad, (int64_t)0), h1 = min(ho * stride - pad + k, H);
    int64_t w0 = max(wo * stride - pad, (int64_t)0), w1 = min(wo * stride - pad + k, W);
    int64_t best = h0 * W + w0;
    float bv = xp[best];
    bool done = false;
    for (int64_t h = h0; h < h1 && !done; ++h)
      for (int64_t w = w0; w < w1; ++w) {
        float v = xp[h * W + w];
        if (v > bv || isnan(v)) {
          bv = v;
          best = h * W + w;
          if (isnan(v)) { done = true; break; }
        }
      }
    y[idx] = bv;
    argmax[idx] = (int32_t)best;
  }
}

__global__ void max_bwd_k(const float* dy, const int32_t* argmax, int64_t planes, int64_t H,
                          int64_t W, int64_t k, int64_t stride, int64_t pad, int64_t Hout,
                          int64_t Wout, float* dx) {
  int64_t total = planes * H * W;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t w = idx % W, h = (idx / W) % H, p = idx / (H * W);
    int64_t ho0, ho1, wo0, wo1;
    covering(h, k, stride, pad, Hout, &ho0, &ho1);
    covering(w, k, stride, pad, Wout, &wo0, &wo1);
    int32_t me = (int32_t)(h * W + w);
    float s = 0.f;
    for (int64_t ho = ho0; ho < ho1; ++ho)
      for (int64_t wo = wo0; wo < wo1; ++wo) {
        int64_t o = (p * Hout + ho) * Wout + wo;
        if (argmax[o] == me) s += dy[o];
      }
    dx[idx] = s;
  }
}

__global__ void avg_fwd_k(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                          int64_t stride, int64_t pad, int64_t Hout, int64_t Wout, float* y) {
  int64_t total = planes * Hout * Wout;
  float inv = 1.f / (float)(k * k);
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t wo = idx % Wout, ho = (idx / Wout) % Hout, p = idx / (Hout * Wout);
    const float* xp = x + p * H * W;
    int64_t h0 = max(ho * stride - pad, (int64_t)0), h1 = min(ho * stride - pad + k, H);
    int64_t w0 = max(wo * stride - pad, (int64_t)0), w1 = min(wo * stride - pad + k, W);
    float s = 0.f;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) s += xp[h * W + w];
    y[idx] = s * inv;
  }
}

__global__ void avg_bwd_k(const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k,
                          int64_t stride, int64_t pad, int64_t Hout, int64_t Wout, float* dx) {
  int64_t total = planes * H * W;
  float inv = 1.f / (float)(k * k);
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t w = idx % W, h = (idx / W) % H, p = idx / (H * W);
    int64_t ho0, ho1, wo0, wo1;
    covering(h, k, stride, pad, Hout, &ho0, &ho1);
    covering(w, k, stride, pad, Wout, &wo0, &wo1);
    float s = 0.f;
    for (int64_t ho = ho0; ho < ho1; ++ho)
      for (int64_t wo = wo0; wo < wo1; ++wo) s += dy[(p * Hout + ho) * Wout + wo] * inv;
    dx[idx] = s;
  }
}

// One warp per plane.
__global__ void gap_fwd_k(const float* x, int64_t planes, int64_t HW, float* y) {
  int64_t p = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (p >= planes) return;
  double s = 0;
  for (int64_t i = lane; i < HW; i += 32) s += (double)x[p * HW + i];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) y[p] = (float)(s / (double)HW);
}

__global__ void gap_bwd_k(const float* dy, int64_t planes, int64_t HW, float* dx) {
  int64_t total = planes * HW;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x)
    dx[idx] = dy[idx / HW] / (float)HW;
}
}  // namespace

// ----------------------------------------------------------------------------
// launchers

void max_pool2d_forward(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, float* y, int32_t* argmax, cudaStream_t s) {
  int64_t Hout = (H + 2 * pad - k) / stride + 1, Wout = (W + 2 * pad - k) / stride + 1;
  int64_t total = planes * Hout * Wout;
  if (total <= 0) return;
  max_fwd_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(x, planes, H, W, k, stride, pad, Hout,
                                                              Wout, y, argmax);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, int64_t planes, int64_t H,
                         int64_t W, int64_t k, int64_t stride, int64_t pad, float* dx,
                         cudaStream_t s) {
  int64_t Hout = (H + 2 * pad - k) / stride + 1, Wout = (W + 2 * pad - k) / stride + 1;
  int64_t total = planes * H * W;
  if (total <= 0) return;
  max_bwd_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(dy, argmax, planes, H, W, k, stride,
                                                              pad, Hout, Wout, dx);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void avg_pool2d_forward(const float* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, float* y, cudaStream_t s) {
  int64_t Hout = (H + 2 * pad - k) / stride + 1, Wout = (W + 2 * pad - k) / stride + 1;
  int64_t total = planes * Hout * Wout;
  if (total <= 0) return;
  avg_fwd_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(x, planes, H, W, k, stride, pad, Hout,
                                                              Wout, y);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void avg_pool2d_backward(const float* dy, int64_t planes, int64_t H, int64_t W, int64_t k,
                         int64_t stride, int64_t pad, float* dx, cudaStream_t s) {
  int64_t Hout = (H + 2 * pad - k) / stride + 1, Wout = (W + 2 * pad - k) / stride + 1;
  int64_t total = planes * H * W;
  if (total <= 0) return;
  avg_bwd_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(dy, planes, H, W, k, stride, pad, Hout,
                                                              Wout, dx);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_forward(const float* x, int64_t planes, int64_t HW, float* y,
                             cudaStream_t s) {
  if (planes <= 0) return;
  constexpr int kWarps = kThreads / 32;
  gap_fwd_k<<<(unsigned)((planes + kWarps - 1) / kWarps), kThreads, 0, s>>>(x, planes, HW, y);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void global_avg_pool_backward(const float* dy, int64_t planes, int64_t HW, float* dx,
                              cudaStream_t s) {
  int64_t total = planes * HW;
  if (total <= 0) return;
  gap_bwd_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(dy, planes, HW, dx);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
