// im2col / col2im and the GEMM layout shuffles on the GPU: one thread per output
// element, grid-stride loops. col2im gathers (each image element sums the columns
// that read it), so it needs no atomics and is deterministic.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/im2col.h"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void im2col_k(const float* imgs, int64_t N, int64_t C, int64_t H, int64_t W,
                         int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t Hout,
                         int64_t Wout, float* cols, int64_t total) {
  int64_t hw = Hout * Wout, ld = N * hw;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = idx / ld, col = idx % ld;
    int64_t n = col / hw, p = col % hw;
    int64_t ho = p / Wout, wo = p % Wout;
    int64_t c = r / (kh * kw), ij = r % (kh * kw);
    int64_t h = ho * stride - pad + ij / kw, w = wo * stride - pad + ij % kw;
    cols[idx] = (h >= 0 && h < H && w >= 0 && w < W) ? imgs[((n * C + c) * H + h) * W + w] : 0.f;
  }
}

__global__ void col2im_k(const float* cols, int64_t N, int64_t C, int64_t H, int64_t W,
                         int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t Hout,
                         int64_t Wout, float* imgs, int64_t total) {
  int64_t hw = Hout * Wout, ld = N * hw;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t w = idx % W, h = (idx / W) % H, c = (idx / (H * W)) % C, n = idx / (C * H * W);
    float s = 0.f;
    for (int64_t i = 0; i < kh; ++i) {
      int64_t t = h + pad - i;  // ho * stride
      if (t < 0 || t % stride) continue;
      int64_t ho = t / stride;
      if (ho >= Hout) continue;
      for (int64_t j = 0; j < kw; ++j) {
        int64_t u = w + pad - j;
        if (u < 0 || u % stride) continue;
        int64_t wo = u / stride;
        if (wo >= Wout) continue;
        s += cols[((c * kh + i) * kw + j) * ld + n * hw + ho * Wout + wo];
      }
    }
    imgs[idx] += s;
  }
}

__global__ void cnhw_to_nchw_k(const float* src, const float* bias, int64_t N, int64_t O,
                               int64_t HW, float* dst, int64_t total) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t p = idx % HW, o = (idx / HW) % O, n = idx / (HW * O);
    dst[idx] = src[(o * N + n) * HW + p] + (bias ? bias[o] : 0.f);
  }
}

__global__ void nchw_to_cnhw_k(const float* src, int64_t N, int64_t O, int64_t HW, float* dst,
                               int64_t total) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t p = idx % HW, n = (idx / HW) % N, o = idx / (HW * N);
    dst[idx] = src[(n * O + o) * HW + p];
  }
}
}  // namespace

// ----------------------------------------------------------------------------
// launchers

void im2col_batch(const float* imgs, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, float* cols, cudaStream_t s) {
  int64_t Hout = (H + 2 * pad - kh) / stride + 1, Wout = (W + 2 * pad - kw) / stride + 1;
  int64_t total = C * kh * kw * N * Hout * Wout;
  if (Hout <= 0 || Wout <= 0 || total <= 0) return;
  im2col_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(imgs, N, C, H, W, kh, kw, stride, pad,
                                                             Hout, Wout, cols, total);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void col2im_batch(const float* cols, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, float* imgs, cudaStream_t s) {
  int64_t Hout = (H + 2 * pad - kh) / stride + 1, Wout = (W + 2 * pad - kw) / stride + 1;
  int64_t total = N * C * H * W;
  if (Hout <= 0 || Wout <= 0 || total <= 0) return;
  col2im_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(cols, N, C, H, W, kh, kw, stride, pad,
                                                             Hout, Wout, imgs, total);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void cnhw_to_nchw(const float* src, const float* bias, int64_t N, int64_t O, int64_t HW,
                  float* dst, cudaStream_t s) {
  int64_t total = N * O * HW;
  if (total <= 0) return;
  cnhw_to_nchw_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(src, bias, N, O, HW, dst, total);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void nchw_to_cnhw(const float* src, int64_t N, int64_t O, int64_t HW, float* dst,
                  cudaStream_t s) {
  int64_t total = N * O * HW;
  if (total <= 0) return;
  nchw_to_cnhw_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(src, N, O, HW, dst, total);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
