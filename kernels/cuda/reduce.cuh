// Block-wide reductions shared by the CUDA kernels.
#pragma once

namespace sprout::kernels::cuda {

// Sum over the block in shared memory; every thread gets the total. `part` holds
// blockDim.x doubles; blockDim.x must be a power of two.
__device__ inline double block_sum(double v, double* part) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  double total = part[0];
  __syncthreads();
  return total;
}

}  // namespace sprout::kernels::cuda
