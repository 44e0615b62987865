// The dense route of sparse layers: the threshold, and the moves between a sparse
// weight and its dense copy on either device.
#include "engine/ops/densify.h"

#include <atomic>

#include "engine/ops/sparse_support.h"
#include "kernels/cpu/densify.h"

namespace sprout::ops {

using namespace detail;

static std::atomic<double> g_dense_above{1.0};

void set_dense_compute_above(double density) {
  SPROUT_CHECK(density >= 0.0 && density <= 1.0, "dense_compute_above: density ", density, " outside [0, 1]");
  g_dense_above = density;
}
double dense_compute_above() { return g_dense_above; }

bool computes_dense(const sparse::SparseParameter& w) {
  return w.density() > g_dense_above.load() && !w.grad_factors_hook;
}

namespace detail {

Tensor dense_copy(const sparse::SparseParameter& w, const Tensor& values) {
  check_values(w, values, "dense_copy");
  Tensor d = Tensor::empty({w.rows, w.cols}, values.dtype(), values.device(), MemCategory::Workspace);
  for_dtype(values, "dense_copy", [&](auto t) {
    using T = decltype(t);
    const kernels::SparseOperand<T> a = sparse::operand<T>(w, values, nullptr);
    if (!values.is_cuda()) return kernels::cpu::sparse_to_dense(a, d.data<T>());
    if constexpr (std::is_same<T, float>::value) SPROUT_ON_CUDA(kernels::cuda::sparse_to_dense(a, d.data<T>(), stream()));
  });
  return d;
}

Tensor values_at_entries(const sparse::SparseParameter& w, const Tensor& dense, const Tensor& like) {
  SPROUT_CHECK(dense.numel() == w.rows * w.cols, "values_at_entries: dense ", shape_str(dense.shape()),
               " for a ", w.rows, " x ", w.cols, " weight");
  Tensor out = Tensor::empty(like.shape(), like.dtype(), like.device());
  for_dtype(dense, "values_at_entries", [&](auto t) {
    using T = decltype(t);
    const kernels::SparseOperand<T> a = sparse::operand<T>(w, out, nullptr);
    if (!dense.is_cuda()) return kernels::cpu::gather_dense(a, dense.data<T>(), out.data<T>());
    if constexpr (std::is_same<T, float>::value)
      SPROUT_ON_CUDA(kernels::cuda::gather_dense(a, dense.data<T>(), out.data<T>(), stream()));
  });
  return out;
}

Tensor values_grad_from_dense(const sparse::SparseParameter& w, const Tensor& dw, const Tensor& values, bool gv,
                              const std::function<void(const Tensor&)>& hook, double columns) {
  Tensor dv;
  if (gv) {
    dv = values_at_entries(w, dw, values);
    count_sparse_flops(FlopPass::WeightGrad, w, columns);
  }
  if (hook) {
    hook(dw.view({w.rows, w.cols}));
    count_hook_flops(w, columns);
  }
  return dv;
}

}  // namespace detail

}  // namespace sprout::ops
