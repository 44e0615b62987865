// Batch normalisation on the GPU. Training forward and backward run one block per
// channel: the block reduces its channel's N*HW values (in double, like the CPU
// twin), then writes the channel's outputs, so each pass is a single launch.
// Evaluation forward is elementwise.
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/bn_act.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/reduce.cuh"

namespace sprout::kernels::cuda {

namespace {
constexpr int kThreads = 512;


__device__ __forceinline__ int64_t at(int64_t j, int64_t c, int64_t C, int64_t HW) {
  return ((j / HW) * C + c) * HW + j % HW;
}

__global__ void bn_train_k(const float* x, const float* gamma, const float* beta, int64_t N,
                           int64_t C, int64_t HW, float eps, float momentum, float* rmean,
                           float* rvar, float* y, float* save_mean, float* save_invstd) {
  __shared__ double part[kThreads];
  int64_t c = blockIdx.x, count = N * HW;
  double s = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) s += (double)x[at(j, c, C, HW)];
  double mean = block_sum(s, part) / (double)count;
  double ss = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    double d = (double)x[at(j, c, C, HW)] - mean;
    ss += d * d;
  }
  ss = block_sum(ss, part);
  double var = ss / (double)count;
  double invstd = 1.0 / sqrt(var + (double)eps);
  if (threadIdx.x == 0) {
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    if (rmean) rmean[c] = (float)((1.0 - momentum) * rmean[c] + momentum * mean);
    if (rvar) {
      double unbiased = count > 1 ? ss / (double)(count - 1) : var;
      rvar[c] = (float)((1.0 - momentum) * rvar[c] + momentum * unbiased);
    }
  }
  float a = (float)invstd * (gamma ? gamma[c] : 1.f);
  float b = (beta ? beta[c] : 0.f) - (float)mean * a;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    int64_t i = at(j, c, C, HW);
    y[i] = x[i] * a + b;
  }
}

__global__ void bn_eval_k(const float* x, const float* gamma, const float* beta,
                          const float* rmean, const float* rvar, int64_t C, int64_t HW, float eps,
                          float* y, float* save_mean, float* save_invstd, int64_t total,
                          int64_t n_threads) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n_threads;
       i += (int64_t)gridDim.x * blockDim.x) {
    if (i < total) {
      int64_t c = (i / HW) % C;
      float invstd = (float)(1.0 / sqrt((double)rvar[c] + (double)eps));
      float a = invstd * (gamma ? gamma[c] : 1.f);
      float b = (beta ? beta[c] : 0.f) - rmean[c] * a;
      y[i] = x[i] * a + b;
    }
    if (i < C) {
      save_mean[i] = rmean[i];
      save_invstd[i] = (float)(1.0 / sqrt((double)rvar[i] + (double)eps));
    }
  }
}

// relu: the gradient through relu(batch norm of x) with shift beta, the ReLU mask
// rebuilt as bn_act.cu's kernels rebuild it.
__global__ void bn_backward_k(const float* x, const float* dy, const float* save_mean,
                              const float* save_invstd, const float* gamma, const float* beta, bool relu, int64_t N,
                              int64_t C, int64_t HW, bool training, float* dx, float* dgamma, float* dbeta) {
  __shared__ double part[kThreads];
  int64_t c = blockIdx.x, count = N * HW;
  double mean = (double)save_mean[c], invstd = (double)save_invstd[c];
  auto grad = [&](int64_t i) {
    if (!relu) return dy[i];
    return bn_act_input(x, nullptr, save_mean, save_invstd, gamma, beta, c, i) > 0.f ? dy[i] : 0.f;
  };
  double sdy = 0, sdyx = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    int64_t i = at(j, c, C, HW);
    const double g = (double)grad(i);
    sdy += g;
    sdyx += g * ((double)x[i] - mean);
  }
  sdy = block_sum(sdy, part);
  sdyx = block_sum(sdyx, part) * invstd;
  if (threadIdx.x == 0) {
    if (dgamma) dgamma[c] = (float)sdyx;
    if (dbeta) dbeta[c] = (float)sdy;
  }
  if (!dx) return;
  double k = (gamma ? (double)gamma[c] : 1.0) * invstd;
  double mdy = training && count ? sdy / (double)count : 0.0;
  double mdyx = training && count ? sdyx / (double)count : 0.0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    int64_t i = at(j, c, C, HW);
    double xhat = ((double)x[i] - mean) * invstd;
    dx[i] = (float)(k * ((double)grad(i) - mdy - xhat * mdyx));
  }
}
}  // namespace

// ----------------------------------------------------------------------------
// launchers

void bn_forward_train(const float* x, const float* gamma, const float* beta, int64_t N,
                      int64_t C, int64_t HW, float eps, float momentum, float* running_mean,
                      float* running_var, float* y, float* save_mean, float* save_invstd,
                      cudaStream_t s) {
  if (C == 0 || N * HW == 0) return;
  bn_train_k<<<(unsigned)C, kThreads, 0, s>>>(x, gamma, beta, N, C, HW, eps, momentum,
                                              running_mean, running_var, y, save_mean, save_invstd);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void bn_forward_eval(const float* x, const float* gamma, const float* beta,
                     const float* running_mean, const float* running_var, int64_t N, int64_t C,
                     int64_t HW, float eps, float* y, float* save_mean, float* save_invstd,
                     cudaStream_t s) {
  // At least C threads, so the per-channel saves are written even for tiny inputs.
  int64_t total = N * C * HW;
  if (C == 0) return;
  int64_t threads = total > C ? total : C;
  bn_eval_k<<<blocks_for(threads, 256), 256, 0, s>>>(x, gamma, beta, running_mean, running_var, C,
                                                     HW, eps, y, save_mean, save_invstd, total, threads);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void bn_backward(const float* x, const float* dy, const float* save_mean,
                 const float* save_invstd, const float* gamma, int64_t N, int64_t C, int64_t HW,
                 bool training, float* dx, float* dgamma, float* dbeta, cudaStream_t s) {
  if (C == 0) return;
  bn_backward_k<<<(unsigned)C, kThreads, 0, s>>>(x, dy, save_mean, save_invstd, gamma, nullptr, false, N, C,
                                                 HW, training, dx, dgamma, dbeta);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void bn_relu_backward(const float* x, const float* dy, const float* save_mean, const float* save_invstd,
                      const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, bool training,
                      float* dx, float* dgamma, float* dbeta, cudaStream_t s) {
  if (C == 0) return;
  bn_backward_k<<<(unsigned)C, kThreads, 0, s>>>(x, dy, save_mean, save_invstd, gamma, beta, true, N, C, HW,
                                                 training, dx, dgamma, dbeta);
  SPROUT_CUDA_LAUNCH_CHECK();
}

}  // namespace sprout::kernels::cuda
