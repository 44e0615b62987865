// SDDMM on the GPU (float32): the weight gradient of a sparse layer at its stored
// entries only. cuSPARSE's generic SDDMM for CSR, and an own warp-per-entry kernel
// for CSR and BSR; the registry entries in spmm.cu pair them with the SpMMs.
#pragma once
#include "kernels/sparse_registry.h"

namespace sprout::kernels::cuda {

void sddmm_cusparse(const SddmmArgs<float>& a);
size_t sddmm_cusparse_workspace(const SddmmArgs<float>& a);
// One warp per stored value (CSR entry or BSR block element), lanes across n.
void sddmm_warp(const SddmmArgs<float>& a);

}  // namespace sprout::kernels::cuda
