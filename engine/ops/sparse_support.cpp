// Shared pieces of the sparse ops: kernel choice, checks, batch shapes, workspace.
#include "engine/ops/sparse_support.h"

namespace sprout::ops::detail {

sparse::SparseParameter structure_of(const sparse::SparseParameter& w) {
  sparse::SparseParameter s;
  s.row_ptr = w.row_ptr;
  s.col_idx = w.col_idx;
  s.dense_shape = w.dense_shape;
  s.rows = w.rows;
  s.cols = w.cols;
  s.block = w.block;
  return s;
}

sparse::SparseParameter with_transpose(const sparse::SparseParameter& s, Device dev, bool linear_layer) {
  sparse::SparseParameter t = s;
  if (!t.transposed && pick(s, dev, nullptr).needs_transpose_view)
    t.transposed = sparse::cached_transpose(s.row_ptr, s.col_idx, sparse::grid_rows(s), sparse::grid_cols(s),
                                            sparse::keeps_transpose(linear_layer));
  return t;
}

const kernels::SparseKernel& pick(const sparse::SparseParameter& w, Device dev, const kernels::SparseKernel* k) {
  const kernels::SparseKernel& kk = k ? *k : kernels::selected_sparse_kernel(
      dev.is_cuda() ? kernels::KernelDevice::Cuda : kernels::KernelDevice::Cpu, sparse::format_of(w));
  SPROUT_CHECK((kk.device == kernels::KernelDevice::Cuda) == dev.is_cuda(), "sparse kernel '", kk.name,
               "' runs on ", kernels::kernel_device_name(kk.device), ", data is on ", dev.str());
  SPROUT_CHECK(kk.format == sparse::format_of(w), "sparse kernel '", kk.name, "' takes ",
               kernels::sparse_format_name(kk.format), ", the weight is ",
               kernels::sparse_format_name(sparse::format_of(w)));
  return kk;
}

void* workspace(size_t bytes, Device dev, Tensor& holder) {
  if (bytes == 0) return nullptr;
  holder = Tensor::empty({(int64_t)bytes}, DType::U8, dev, MemCategory::Workspace);
  return holder.raw_data();
}

void batch_dims(const Tensor& t, int64_t* batch, int64_t* k, int64_t* n, const char* op) {
  SPROUT_CHECK(t.dim() == 2 || t.dim() == 3, op, ": expected [K, n] or [B, K, n], got ",
               shape_str(t.shape()));
  *batch = t.dim() == 3 ? t.size(0) : 1;
  *k = t.size(-2);
  *n = t.size(-1);
}

void count_sparse_flops(FlopPass pass, const sparse::SparseParameter& w, double columns) {
  const double nnz = (double)(w.col_idx.numel() * w.block * w.block);
  count_flops(pass, 2.0 * nnz * columns, 2.0 * (double)w.rows * (double)w.cols * columns);
}

void count_hook_flops(const sparse::SparseParameter& w, double columns) {
  count_flops(FlopPass::WeightGrad, 2.0 * (double)w.rows * (double)w.cols * columns, 0.0);
}

void check_values(const sparse::SparseParameter& w, const Tensor& values, const char* op) {
  SPROUT_CHECK(w.row_ptr.defined() && w.col_idx.defined() && values.defined(), op,
               ": sparse weight has no structure or values");
  const int64_t expect = w.col_idx.numel() * w.block * w.block;
  SPROUT_CHECK(values.numel() == expect, op, ": ", values.numel(), " values for ",
               w.col_idx.numel(), " stored blocks of ", w.block, "x", w.block);
  SPROUT_CHECK(w.row_ptr.device() == values.device(), op, ": structure on ",
               w.row_ptr.device().str(), ", values on ", values.device().str());
}

}  // namespace sprout::ops::detail
