// Elementwise CUDA kernels: grid-stride loops, one launch each.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/elementwise.h"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void add_k(const float* a, const float* b, float* o, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = a[i] + b[i];
}
__global__ void axpy_k(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] += alpha * x[i];
}
__global__ void mul_k(const float* a, const float* b, float* o, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = a[i] * b[i];
}
__global__ void scale_k(const float* a, float k, float* o, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = a[i] * k;
}
__global__ void add_bias_k(const float* x, const float* b, float* o, int64_t n, int64_t channels,
                           int64_t inner) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    o[i] = x[i] + b[(i / inner) % channels];
}
// One block per channel; threads stride over (outer, inner).
__global__ void bias_grad_k(const float* dy, float* db, int64_t outer, int64_t channels,
                            int64_t inner) {
  __shared__ float part[kThreads];
  int64_t c = blockIdx.x;
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < outer * inner; j += blockDim.x) {
    int64_t o = j / inner, i = j % inner;
    s += dy[(o * channels + c) * inner + i];
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[c] = part[0];
}
__global__ void relu_k(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] > 0.f ? x[i] : 0.f;
}
__global__ void relu_bw_k(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}
// Single block: deterministic sum (no atomics), fine for the scalar losses it serves.
__global__ void sum_k(const float* x, float* out, int64_t n) {
  __shared__ double part[kThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = (float)part[0];
}
__global__ void fill_k(float* x, float v, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    x[i] = v;
}
__global__ void fill_scaled_k(const float* sc, float f, float* x, int64_t n) {
  float v = sc[0] * f;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    x[i] = v;
}
}  // namespace

#define SPROUT_LAUNCH(kernel, n, ...) SPROUT_LAUNCH_1D(kernel, n, kThreads, s, __VA_ARGS__)

void add(const float* a, const float* b, float* o, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(add_k, n, a, b, o, n); }
void axpy(float al, const float* x, float* y, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(axpy_k, n, al, x, y, n); }
void mul(const float* a, const float* b, float* o, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(mul_k, n, a, b, o, n); }
void scale(const float* a, float k, float* o, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(scale_k, n, a, k, o, n); }
void add_bias(const float* x, const float* b, float* o, int64_t outer, int64_t c, int64_t inner, cudaStream_t s) {
  int64_t n = outer * c * inner;
  SPROUT_LAUNCH(add_bias_k, n, x, b, o, n, c, inner);
}
void bias_grad(const float* dy, float* db, int64_t outer, int64_t c, int64_t inner, cudaStream_t s) {
  if (c == 0) return;
  bias_grad_k<<<(unsigned)c, kThreads, 0, s>>>(dy, db, outer, c, inner);
  SPROUT_CUDA_LAUNCH_CHECK();
}
void relu(const float* x, float* y, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(relu_k, n, x, y, n); }
void relu_backward(const float* y, const float* dy, float* dx, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(relu_bw_k, n, y, dy, dx, n); }
void sum(const float* x, float* out, int64_t n, cudaStream_t s) {
  sum_k<<<1, kThreads, 0, s>>>(x, out, n);
  SPROUT_CUDA_LAUNCH_CHECK();
}
void fill(float* x, float v, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(fill_k, n, x, v, n); }
void fill_scaled(const float* sc, float f, float* x, int64_t n, cudaStream_t s) { SPROUT_LAUNCH(fill_scaled_k, n, sc, f, x, n); }

}  // namespace sprout::kernels::cuda
