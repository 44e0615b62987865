// SPROUT_HD marks small shared formulas __host__ __device__ under nvcc (nothing
// elsewhere), so the CPU build tests the exact code the GPU runs.
#pragma once

#ifdef __CUDACC__
#define SPROUT_HD __host__ __device__
#else
#define SPROUT_HD
#endif
