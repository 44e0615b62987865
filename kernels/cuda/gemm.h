// Row-major float32 GEMM on the GPU through cuBLAS (the twin of kernels/cpu/gemm.h).
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc, cudaStream_t s);

}  // namespace sprout::kernels::cuda
