// Sampled dense-dense products on the CPU (CSR and BSR): the weight gradient of a
// sparse layer computed only at its stored entries, O(nnz * n), never densely.
#pragma once
#include <cstdint>

#include "kernels/sparse_registry.h"

namespace sprout::kernels::cpu {

// out[e] (+)= sum_b dot(X_b[row(e)], Y_b[col(e)]) for CSR structure a (block == 1).
template <class T> void sddmm_csr(const SddmmArgs<T>& args);
// The same per element of every stored block of a BSR structure (block > 1).
template <class T> void sddmm_bsr(const SddmmArgs<T>& args);

}  // namespace sprout::kernels::cpu
