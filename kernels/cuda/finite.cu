// Finite-value checks on the GPU: a grid-stride scan, one atomic per block that saw a
// NaN or an infinity.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/finite.h"

namespace sprout::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void mark_non_finite_k(const float* x, int64_t n, unsigned long long mark, unsigned long long* flag) {
  int bad = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    bad |= !isfinite(x[i]);
  if (__syncthreads_or(bad) && threadIdx.x == 0) atomicMin(flag, mark);
}

}  // namespace

void mark_non_finite(const float* x, int64_t n, unsigned long long mark, unsigned long long* flag,
                     cudaStream_t s) {
  SPROUT_LAUNCH_1D(mark_non_finite_k, n, kThreads, s, x, n, mark, flag);
}

}  // namespace sprout::kernels::cuda
