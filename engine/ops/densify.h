// A sparse layer whose density is above a threshold computes through a transient dense
// copy of its weight (the per-layer switch SparseProp makes: sparse only where it is
// faster). The weight, its gradient and optimizer state stay sparse; the copy lives in
// workspace for one pass, and the dense weight gradient is read back at the stored
// entries. FLOPs are counted as the sparse route would count them, so the accounting's
// ideal describes the structure, not the route.
#pragma once
#include <functional>

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
// A dense [rows, cols] matrix read at w's stored entries: a tensor shaped like `like`.
Tensor values_at_entries(const sparse::SparseParameter& w, const Tensor& dense, const Tensor& like);
// The end of a dense route's backward, given the dense weight gradient dw [rows, cols]:
// the values' gradient when gv (else undefined), the regrowth hook called with dw when
// set, and their FLOPs counted as the sparse route counts them.
Tensor values_grad_from_dense(const sparse::SparseParameter& w, const Tensor& dw, const Tensor& values, bool gv,
                              const std::function<void(const Tensor&)>& hook, double columns);
}  // namespace detail

}  // namespace sprout::ops
