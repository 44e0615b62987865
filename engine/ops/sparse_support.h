// What the sparse ops (spmm, sddmm, sparse_conv) share: the kernel choice through the
// registry, argument checks, batch shapes and workspace. Internal to engine/ops.
#pragma once
#include <functional>

#include "engine/core/dispatch.h"
#include "engine/core/flops.h"
#include "engine/sparse/parameter.h"
#include "kernels/sparse_registry.h"

namespace sprout::ops::detail {

// Set on update steps by gradient-based regrowth: called with the dense dW once.
using DenseGradHook = std::function<void(const Tensor&)>;

// The structure alone (values travel separately), as saved by backward nodes.
sparse::SparseParameter structure_of(const sparse::SparseParameter& w);
// s with its CSC view attached when the selected kernel for `dev` reads one, so the
// several W^T products of one backward pass share a single transpose; kept between
// steps when sparse::keeps_transpose(linear_layer).
sparse::SparseParameter with_transpose(const sparse::SparseParameter& s, Device dev, bool linear_layer);
// `k` when given (checked against the data), else the registry's selection.
const kernels::SparseKernel& pick(const sparse::SparseParameter& w, Device dev, const kernels::SparseKernel* k);
// A workspace of `bytes` on `dev`, kept alive by `holder`; null for 0 bytes.
void* workspace(size_t bytes, Device dev, Tensor& holder);
// Splits a [K, n] or [B, K, n] tensor into (batch, K, n).
void batch_dims(const Tensor& t, int64_t* batch, int64_t* k, int64_t* n, const char* op);
// Counts one product of W (or W^T, or the SDDMM at W's entries) with `columns` dense
// columns: 2 nnz columns FLOPs done, 2 rows cols columns for the dense layer.
void count_sparse_flops(FlopPass pass, const sparse::SparseParameter& w, double columns);
// The dense weight gradient a regrowth hook asks for: work the dense layer has no twin of.
void count_hook_flops(const sparse::SparseParameter& w, double columns);
// Throws unless `values` fits w's structure and device.
void check_values(const sparse::SparseParameter& w, const Tensor& values, const char* op);

template <class T> const kernels::SparseKernelFns<T>& fns_of(const kernels::SparseKernel& k);
template <> inline const kernels::SparseKernelFns<float>& fns_of<float>(const kernels::SparseKernel& k) {
  return k.f32;
}
template <> inline const kernels::SparseKernelFns<double>& fns_of<double>(const kernels::SparseKernel& k) {
  return k.f64;
}

// One kernel call on the engine's stream, with the workspace the kernel asks for on
// `dev` (held for the call).
template <class Args>
void call_kernel(void (*run)(const Args&), size_t (*workspace_bytes)(const Args&), Args& a, Device dev) {
  Tensor ws;
  a.stream = kernels::cuda::stream();
  if (workspace_bytes) {
    a.workspace_bytes = workspace_bytes(a);
    a.workspace = workspace(a.workspace_bytes, dev, ws);
  }
  run(a);
}
template <class T>
void call_spmm(const kernels::SparseKernelFns<T>& f, kernels::SpmmArgs<T>& a, Device dev) {
  call_kernel(f.spmm, f.spmm_workspace, a, dev);
}
template <class T>
void call_sddmm(const kernels::SparseKernelFns<T>& f, kernels::SddmmArgs<T>& a, Device dev) {
  call_kernel(f.sddmm, f.sddmm_workspace, a, dev);
}

template <class F>
void for_dtype(const Tensor& t, const char* op, F&& f) {
  if (t.is_cuda()) check_cuda_f32(t, op);
  dispatch_float(t.dtype(), op, f);
}

}  // namespace sprout::ops::detail
