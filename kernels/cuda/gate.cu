// Gate CUDA kernels: elementwise scaling, per-unit reductions (one block per unit),
// and single-block regularizers over the gate logits (a few thousand values, so one
// deterministic block is enough and nothing is read back to the host).
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/gate.h"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__device__ inline float sigmoid_f(float z) { return 1.f / (1.f + expf(-z)); }
__device__ inline float sign_f(float v) { return (float)((v > 0.f) - (v < 0.f)); }


__global__ void channel_mul_k(const float* x, const float* w, float* y, int64_t n, int64_t channels,
                              int64_t inner, int64_t units) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] * w[units == 1 ? 0 : (i / inner) % channels];
}

// One block per unit; units == 1 reduces over every element.
__global__ void unit_grad_k(const float* x, const float* dy, float* dw, int64_t outer, int64_t channels,
                            int64_t inner, int64_t units) {
  __shared__ double part[kThreads];
  int64_t u = blockIdx.x;
  double s = 0;
  if (units == 1) {
    int64_t n = outer * channels * inner;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += (double)dy[i] * (double)x[i];
  } else {
    for (int64_t j = threadIdx.x; j < outer * inner; j += blockDim.x) {
      int64_t idx = ((j / inner) * channels + u) * inner + j % inner;
      s += (double)dy[idx] * (double)x[idx];
    }
  }
  double total = block_sum(s, part);
  if (threadIdx.x == 0) dw[u] = (float)total;
}

__global__ void hard_gate_k(const float* z, float* b, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    b[i] = z[i] > 0.f ? 1.f : 0.f;
}

__global__ void logit_grad_k(const float* z, const float* db, float* dz, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float q = sigmoid_f(z[i]);
    dz[i] = db[i] * q * (1.f - q);
  }
}

__global__ void polarization_k(const float* z, int64_t n, float t, float* out) {
  __shared__ double part[kThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += sigmoid_f(z[i]);
  double sum_q = block_sum(s, part);
  double mean = n ? sum_q / (double)n : 0.0, spread = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) spread += fabs((double)sigmoid_f(z[i]) - mean);
  spread = block_sum(spread, part);
  if (threadIdx.x == 0) out[0] = (float)(t * sum_q - spread);
}

__global__ void polarization_bw_k(const float* z, int64_t n, float t, const float* g, float* dz) {
  __shared__ double part[kThreads];
  if (n == 0) return;
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += sigmoid_f(z[i]);
  double mean = block_sum(s, part) / (double)n;
  double sg = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sg += sign_f((float)((double)sigmoid_f(z[i]) - mean));
  double mean_sign = block_sum(sg, part) / (double)n;
  float gv = g[0];
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    float q = sigmoid_f(z[i]);
    double dq = (double)t - ((double)sign_f((float)((double)q - mean)) - mean_sign);
    dz[i] = (float)((double)gv * dq * q * (1.0 - q));
  }
}

__global__ void density_k(const float* z, int64_t n, float d, float* out) {
  __shared__ double part[kThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += z[i] > 0.f ? 1.0 : 0.0;
  double open = block_sum(s, part);
  double e = n ? open / (double)n - d : 0.0;
  if (threadIdx.x == 0) out[0] = (float)(n ? e * e : 0.0);
}

__global__ void density_bw_k(const float* z, int64_t n, float d, const float* g, float* dz) {
  __shared__ double part[kThreads];
  if (n == 0) return;
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += z[i] > 0.f ? 1.0 : 0.0;
  double open = block_sum(s, part);
  double db = (double)g[0] * 2.0 * (open / (double)n - d) / (double)n;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    float q = sigmoid_f(z[i]);
    dz[i] = (float)(db * q * (1.0 - q));
  }
}
}  // namespace

#define SPROUT_GATE_LAUNCH(kernel, n, ...) SPROUT_LAUNCH_1D(kernel, n, kThreads, s, __VA_ARGS__)

void channel_mul(const float* x, const float* w, float* y, int64_t outer, int64_t channels, int64_t inner,
                 int64_t units, cudaStream_t s) {
  int64_t n = outer * channels * inner;
  SPROUT_GATE_LAUNCH(channel_mul_k, n, x, w, y, n, channels, inner, units);
}

void channel_mul_backward(const float* x, const float* dy, const float* w, float* dx, float* dw, int64_t outer,
                          int64_t channels, int64_t inner, int64_t units, cudaStream_t s) {
  if (dx) channel_mul(dy, w, dx, outer, channels, inner, units, s);
  if (dw && units > 0) {
    unit_grad_k<<<(unsigned)units, kThreads, 0, s>>>(x, dy, dw, outer, channels, inner, units);
    SPROUT_CUDA_LAUNCH_CHECK();
  }
}

void hard_gate(const float* z, float* b, int64_t n, cudaStream_t s) { SPROUT_GATE_LAUNCH(hard_gate_k, n, z, b, n); }

void gate_logit_grad(const float* z, const float* db, float* dz, int64_t n, cudaStream_t s) {
  SPROUT_GATE_LAUNCH(logit_grad_k, n, z, db, dz, n);
}

void polarization(const float* z, int64_t n, float t, float* out, cudaStream_t s) {
  polarization_k<<<1, kThreads, 0, s>>>(z, n, t, out);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void polarization_backward(const float* z, int64_t n, float t, const float* g, float* dz, cudaStream_t s) {
  polarization_bw_k<<<1, kThreads, 0, s>>>(z, n, t, g, dz);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void density_penalty(const float* z, int64_t n, float d, float* out, cudaStream_t s) {
  density_k<<<1, kThreads, 0, s>>>(z, n, d, out);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void density_penalty_backward(const float* z, int64_t n, float d, const float* g, float* dz, cudaStream_t s) {
  density_bw_k<<<1, kThreads, 0, s>>>(z, n, d, g, dz);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
