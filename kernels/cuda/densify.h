// Sparse weight <-> dense copy on the GPU (float32), twins of kernels/cpu/densify.h:
// one thread per stored value, its block row found by binary search in row_ptr.
#pragma once
#include "kernels/sparse_registry.h"

namespace sprout::kernels::cuda {

// dense [rows, cols]: zeroed, then the stored entries written.
void sparse_to_dense(const SparseOperand<float>& a, float* dense, cudaStream_t s);
// out[e * block^2 + i * block + j] = dense at stored block e's element (i, j); 0 past the edge.
void gather_dense(const SparseOperand<float>& a, const float* dense, float* out, cudaStream_t s);

}  // namespace sprout::kernels::cuda
