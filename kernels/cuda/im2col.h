// im2col / col2im and the GEMM layout shuffles on the GPU (float32), twins of
// kernels/cpu/im2col.h with the same layouts: cols [C*kh*kw, N*Hout*Wout].
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void im2col_batch(const float* imgs, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, float* cols, cudaStream_t s);
// imgs += fold(cols). Each image element gathers its own contributions: no atomics,
// so the result is deterministic.
void col2im_batch(const float* cols, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, float* imgs, cudaStream_t s);
// [O, N*HW] -> [N, O, HW] (+ bias[o] when not null), and back.
void cnhw_to_nchw(const float* src, const float* bias, int64_t N, int64_t O, int64_t HW,
                  float* dst, cudaStream_t s);
void nchw_to_cnhw(const float* src, int64_t N, int64_t O, int64_t HW, float* dst,
                  cudaStream_t s);

}  // namespace sprout::kernels::cuda
