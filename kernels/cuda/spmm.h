// Sparse x dense products on the GPU (float32), the twins of kernels/cpu/spmm.h: the
// registry entries for cuSPARSE's generic API (CSR), an own row-split CSR kernel and
// an own BSR kernel, plus the dense transpose the layer ops use.
#pragma once
#include <cstdint>

#include "kernels/sparse_registry.h"
#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

SparseKernel cusparse_csr_kernel();
SparseKernel rowsplit_csr_kernel();
SparseKernel bsr_kernel();

// dst[c, r] = src[r, c] (+ bias[r] when bias is not null) for a rows x cols matrix;
// lds / ldd are the row strides.
void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd,
               const float* bias, cudaStream_t s);
// out[r] = sum_c src[r, c].
void row_sums(int64_t rows, int64_t cols, const float* src, int64_t lds, float* out, cudaStream_t s);

}  // namespace sprout::kernels::cuda
