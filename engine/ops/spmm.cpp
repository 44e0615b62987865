// SpMM ops: argument checks, kernel choice through the registry, workspace, and the
// backward nodes. Layout: the kernels want the multiplied dense operand as [K, n] rows,
// so a linear layer transposes x once (and keeps x^T for the SDDMM), and the gradient
// dy once for both backward products.
#include "engine/ops/spmm.h"

#include "engine/autograd/saved.h"
#include "engine/ops/densify.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/sddmm.h"
#include "engine/ops/sparse_support.h"
#include "kernels/cpu/spmm.h"

namespace sprout::ops {

using autograd::FunctionNode;
using kernels::SparseKernel;
using namespace detail;

// The shared body of spmm_into / spmm_transposed: c is [M, n] ([B, M, n]), or [n, M]
// when transpose_c (then the kernel must support output options).
static void run_spmm(const sparse::SparseParameter& w, const Tensor& values, bool transpose_w, const Tensor& b,
                     Tensor& c, bool accumulate, bool transpose_c, const Tensor& row_bias,
                     const SparseKernel& kk) {
  check_values(w, values, "spmm");
  check_same(values, b, "spmm");
  check_same(values, c, "spmm");
  int64_t batch, kb, n, bc, mc, nc;
  batch_dims(b, &batch, &kb, &n, "spmm");
  batch_dims(c, &bc, &mc, &nc, "spmm");
  if (transpose_c) std::swap(mc, nc);
  const int64_t m = transpose_w ? w.cols : w.rows, k = transpose_w ? w.rows : w.cols;
  SPROUT_CHECK(kb == k && mc == m && nc == n && bc == batch, "spmm: ", (transpose_w ? "W^T" : "W"),
               " [", m, ", ", k, "] x ", shape_str(b.shape()), " -> ", shape_str(c.shape()),
               (transpose_c ? " (transposed)" : ""));
  if (row_bias.defined()) {
    check_same(values, row_bias, "spmm");
    SPROUT_CHECK(row_bias.numel() == m, "spmm: bias of ", row_bias.numel(), " for ", m, " output rows");
  }
  std::shared_ptr<const sparse::TransposedStructure> t;
  if (transpose_w && kk.needs_transpose_view)
    t = w.transposed ? w.transposed
                     : sparse::cached_transpose(w.row_ptr, w.col_idx, sparse::grid_rows(w), sparse::grid_cols(w),
                                                sparse::keeps_transpose(false));
  for_dtype(values, "spmm", [&](auto tag) {
    using T = decltype(tag);
    const auto& f = fns_of<T>(kk);
    SPROUT_CHECK(f.spmm, "sparse kernel '", kk.name, "' has no ", dtype_name(values.dtype()), " SpMM");
    kernels::SpmmArgs<T> a;
    a.a = sparse::operand<T>(w, values, t.get());
    a.transpose_a = transpose_w;
    a.n = n;
    a.batch = batch;
    a.b = b.data<T>();
    a.ldb = n;
    a.stride_b = k * n;
    a.c = c.data<T>();
    a.ldc = transpose_c ? m : n;
    a.stride_c = m * n;
    a.accumulate = accumulate;
    a.transpose_c = transpose_c;
    a.row_bias = row_bias.defined() ? row_bias.data<T>() : nullptr;
    call_spmm(f, a, values.device());
  });
}

void spmm_into(const sparse::SparseParameter& w, const Tensor& values, bool transpose_w,
               const Tensor& b, Tensor& c, bool accumulate, const SparseKernel* kernel) {
  run_spmm(w, values, transpose_w, b, c, accumulate, false, Tensor(), pick(w, values.device(), kernel));
}

Tensor spmm_transposed(const sparse::SparseParameter& w, const Tensor& values, bool transpose_w, const Tensor& b,
                       MemCategory cat, const Tensor& bias, const SparseKernel* kernel) {
  const SparseKernel& kk = pick(w, values.device(), kernel);
  SPROUT_CHECK(b.dim() == 2, "spmm_transposed: expected b [K, n], got ", shape_str(b.shape()));
  const int64_t m = transpose_w ? w.cols : w.rows, n = b.size(1);
  if (kk.supports_output_options) {
    Tensor c = Tensor::empty({n, m}, b.dtype(), b.device(), cat);
    run_spmm(w, values, transpose_w, b, c, false, true, bias, kk);
    return c;
  }
  Tensor ct = Tensor::empty({m, n}, b.dtype(), b.device(), MemCategory::Workspace);
  run_spmm(w, values, transpose_w, b, ct, false, false, Tensor(), kk);
  return transpose2d(ct, cat, bias);
}

Tensor transpose2d(const Tensor& x, MemCategory cat, const Tensor& row_bias) {
  SPROUT_CHECK(x.dim() == 2, "transpose2d: expected a matrix, got ", shape_str(x.shape()));
  const int64_t r = x.size(0), c = x.size(1);
  if (row_bias.defined()) {
    check_same(x, row_bias, "transpose2d");
    SPROUT_CHECK(row_bias.numel() == r, "transpose2d: bias of ", row_bias.numel(), " for ", r, " rows");
  }
  Tensor out = Tensor::empty({c, r}, x.dtype(), x.device(), cat);
  if (x.numel() == 0) return out;
  if (x.is_cuda()) {
    check_cuda_f32(x, "transpose2d");
    SPROUT_ON_CUDA(kernels::cuda::transpose(r, c, x.data<float>(), c, out.data<float>(), r,
                                            row_bias.defined() ? row_bias.data<float>() : nullptr, stream()));
  } else {
    dispatch_float(x.dtype(), "transpose2d", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::transpose<T>(r, c, x.data<T>(), c, out.data<T>(), r,
                                 row_bias.defined() ? row_bias.data<T>() : nullptr);
    });
  }
  return out;
}

// out[i] = sum of row i of the matrix x, in the current category.
static Tensor row_sums(const Tensor& x) {
  const int64_t r = x.size(0), c = x.size(1);
  Tensor out = Tensor::empty({r}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::row_sums(r, c, x.data<float>(), c, out.data<float>(), stream()));
  } else {
    dispatch_float(x.dtype(), "row_sums", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::row_sums<T>(r, c, x.data<T>(), c, out.data<T>());
    });
  }
  return out;
}

// ---- sparse_linear ----------------------------------------------------------------

// The dense route (densify.h): y = x Wd^T, the dense copy Wd made again in backward.
static Tensor dense_route_linear(const Tensor& x, sparse::SparseParameter& w) {
  Tensor y = Tensor::empty({x.size(0), w.rows}, x.dtype(), x.device());
  gemm_into(false, true, x, dense_copy(w, w.values), y);
  const double n = (double)x.size(0);
  count_sparse_flops(FlopPass::Forward, w, n);
  if (!autograd::needs_grad({&x, &w.values})) return y;
  const sparse::SparseParameter s = structure_of(w);
  const Tensor values = w.values.detach(), xs = x.detach();
  const bool gx = x.requires_grad(), gv = w.values.requires_grad();
  const DenseGradHook hook = w.dense_grad_hook;
  autograd::record(y, std::make_shared<FunctionNode>("sparse_linear", [s, values, xs, gx, gv, hook, n](const Tensor& g) {
    Tensor dx, dv;
    if (gx) {
      dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
      gemm_into(false, false, g, dense_copy(s, values), dx);
      count_sparse_flops(FlopPass::InputGrad, s, n);
    }
    if (gv || hook) {
      Tensor dw = Tensor::empty({s.rows, s.cols}, g.dtype(), g.device(), MemCategory::Workspace);
      gemm_into(true, false, g, xs, dw);
      dv = values_grad_from_dense(s, dw, values, gv, hook, n);
    }
    return std::vector<Tensor>{dx, dv};
  }), {&x, &w.values});
  return y;
}

Tensor sparse_linear(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias) {
  check_values(w, w.values, "sparse_linear");
  check_same(x, w.values, "sparse_linear");
  SPROUT_CHECK(x.dim() == 2 && x.size(1) == w.cols, "sparse_linear: input ", shape_str(x.shape()),
               " for a ", w.rows, " x ", w.cols, " weight");
  if (bias.defined())
    SPROUT_CHECK(bias.numel() == w.rows, "sparse_linear: bias of ", bias.numel(), " for ", w.rows, " outputs");
  if (computes_dense(w)) {
    Tensor y = dense_route_linear(x, w);
    return bias.defined() ? add_bias(y, bias) : y;
  }
  const bool grad = autograd::needs_grad({&x, &w.values, &bias});
  // x^T is kept for the weight gradient, so it counts as an activation when saved.
  Tensor xt = transpose2d(x, grad ? current_mem_category() : MemCategory::Workspace);
  Tensor y = spmm_transposed(w, w.values, false, xt, current_mem_category(), bias);
  const double n = (double)x.size(0);
  count_sparse_flops(FlopPass::Forward, w, n);
  if (grad) {
    sparse::SparseParameter s = structure_of(w);
    Tensor values = w.values.detach();
    const bool gx = x.requires_grad(), gv = w.values.requires_grad(), gb = bias.defined() && bias.requires_grad();
    DenseGradHook hook = w.dense_grad_hook;
    auto factors_hook = w.grad_factors_hook;
    autograd::record(y, std::make_shared<FunctionNode>("sparse_linear",
        [s, values, xt, gx, gv, gb, hook, factors_hook, n](const Tensor& g) {
      Tensor gt = transpose2d(g, MemCategory::Workspace);
      Tensor dx, dv, db;
      if (gx) {
        dx = spmm_transposed(with_transpose(s, g.device(), true), values, true, gt, current_mem_category());
        count_sparse_flops(FlopPass::InputGrad, s, n);
      }
      if (gv) {
        count_sparse_flops(FlopPass::WeightGrad, s, n);
        dv = Tensor::empty(values.shape(), values.dtype(), values.device());
        sddmm_into(s, gt, xt, dv);
      }
      if (gb) db = row_sums(gt);
      if (factors_hook) {
        factors_hook(sparse::GradFactors{gt, xt, Tensor()});  // growth ranks without dW
      } else if (hook) {
        Tensor dense = Tensor::empty({s.rows, s.cols}, gt.dtype(), gt.device(), MemCategory::Workspace);
        gemm_into(false, true, gt, xt, dense);
        count_hook_flops(s, n);
        hook(dense);
      }
      return std::vector<Tensor>{dx, dv, db};
    }), {&x, &w.values, &bias});
  }
  return y;
}

// ---- sparse_matmul_cols -------------------------------------------------------------

// Item i of a contiguous [B, rows, n] batch as a [rows, n] tensor sharing storage.
static Tensor batch_item(const Tensor& t, int64_t i, int64_t rows, int64_t n) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->byte_offset = t.impl()->byte_offset + (size_t)(i * rows * n) * dtype_size(t.dtype());
  impl->shape = {rows, n};
  impl->dtype = t.dtype();
  return Tensor(impl);
}

// Dense weight gradient sum_i g_i cols_i^T for a hook, [rows, cols] in workspace.
static Tensor dense_grad_cols(const sparse::SparseParameter& s, const Tensor& g, const Tensor& cols) {
  int64_t batch, r, n;
  batch_dims(g, &batch, &r, &n, "dense gradient");
  Tensor dense = Tensor::empty({s.rows, s.cols}, g.dtype(), g.device(), MemCategory::Workspace);
  for (int64_t i = 0; i < batch; ++i) {
    Tensor gi = batch_item(g, i, r, n), ci = batch_item(cols, i, s.cols, n);
    gemm_into(false, true, gi, ci, dense, i == 0 ? 0.0 : 1.0);
  }
  return dense;
}

Tensor sparse_matmul_cols(sparse::SparseParameter& w, const Tensor& cols) {
  check_values(w, w.values, "sparse_matmul_cols");
  check_same(cols, w.values, "sparse_matmul_cols");
  int64_t batch, k, n;
  batch_dims(cols, &batch, &k, &n, "sparse_matmul_cols");
  SPROUT_CHECK(k == w.cols, "sparse_matmul_cols: columns ", shape_str(cols.shape()), " for a ",
               w.rows, " x ", w.cols, " weight");
  Shape out_shape = cols.dim() == 3 ? Shape{batch, w.rows, n} : Shape{w.rows, n};
  Tensor y = Tensor::empty(out_shape, cols.dtype(), cols.device());
  spmm_into(w, w.values, false, cols, y);
  const double columns = (double)batch * (double)n;
  count_sparse_flops(FlopPass::Forward, w, columns);
  if (autograd::needs_grad({&cols, &w.values})) {
    sparse::SparseParameter s = structure_of(w);
    Tensor values = w.values.detach();
    autograd::SavedTensor kept(cols);  // rebuilt in backward when its producer can
    const bool gc = cols.requires_grad(), gv = w.values.requires_grad();
    DenseGradHook hook = w.dense_grad_hook;
    autograd::record(y, std::make_shared<FunctionNode>("sparse_matmul_cols",
        [s, values, kept, gc, gv, hook, columns](const Tensor& g) {
      const Tensor saved = kept.get();
      Tensor dc, dv;
      if (gc) {
        dc = Tensor::empty(saved.shape(), saved.dtype(), saved.device());
        spmm_into(with_transpose(s, g.device(), false), values, true, g, dc);
        count_sparse_flops(FlopPass::InputGrad, s, columns);
      }
      if (gv) {
        dv = Tensor::empty(values.shape(), values.dtype(), values.device());
        sddmm_into(s, g, saved, dv);
        count_sparse_flops(FlopPass::WeightGrad, s, columns);
      }
      if (hook) {
        hook(dense_grad_cols(s, g, saved));
        count_hook_flops(s, columns);
      }
      return std::vector<Tensor>{dc, dv};
    }), {&cols, &w.values});
  }
  return y;
}

}  // namespace sprout::ops
