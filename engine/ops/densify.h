// A sparse layer whose density is above a threshold computes through a transient dense
// copy of its weight (the per-layer switch SparseProp makes: sparse only where it is
// faster). The weight, its gradient and optimizer state stay sparse; the copy lives in
// workspace for one pass, and the dense weight gradient is read back at the stored
// entries. FLOPs are counted as the sparse route would count them, so the accounting's
// ideal describes the structure, not the route.
#pragma once
#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"

namespace sprout::ops {

// Layers denser than this compute densely; 1 (the default here) never. Training sets it
// from sparsity.dense_compute_above.
void set_dense_compute_above(double density);
double dense_compute_above();
// Whether w computes through a dense copy: denser than the threshold, and no hook that
// wants the gradient's factors instead of the dense gradient.
bool computes_dense(const sparse::SparseParameter& w);

namespace detail {
// [rows, cols] in workspace on the values' device: the stored entries, zeros elsewhere.
Tensor dense_copy(const sparse::SparseParameter& w, const Tensor& values);
// The values' gradient (length of the values) from a dense [rows, cols] gradient.
Tensor gather_values(const sparse::SparseParameter& w, const Tensor& dense, const Tensor& like);
}  // namespace detail

}  // namespace sprout::ops
