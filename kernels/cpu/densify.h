// Moves between a sparse weight and a dense copy of it, for a layer dense enough that
// the dense product beats the sparse one: the stored entries scattered into a rows x
// cols matrix (zeros elsewhere), and a dense matrix read back at the stored entries
// (the values' gradient from a dense weight gradient). CSR when block = 1, else BSR,
// whose entries past the matrix edge read and write 0.
#pragma once
#include <cstdint>

#include "kernels/sparse_registry.h"

namespace sprout::kernels::cpu {

// dense [rows, cols] row-major: every element written.
template <class T>
void sparse_to_dense(const SparseOperand<T>& a, T* dense);

// out[e * block^2 + i * block + j] = dense at stored block e's element (i, j).
template <class T>
void gather_dense(const SparseOperand<T>& a, const T* dense, T* out);

}  // namespace sprout::kernels::cpu
