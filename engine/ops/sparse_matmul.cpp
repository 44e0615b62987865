// Sparse products: argument checks, kernel choice through the registry, workspace
// allocation, and the backward nodes. Layout: the kernels want the multiplied dense
// operand as [K, n] rows, so a linear layer transposes x once (and keeps x^T for the
// SDDMM), and the gradient dy once for both backward products.
#include "engine/ops/sparse_matmul.h"

#include <functional>

#include "engine/autograd/node.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/shape.h"
#include "engine/sparse/parameter.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/spmm.h"

namespace sprout::ops {

using autograd::FunctionNode;
using kernels::SparseKernel;

namespace {

// Set on update steps by gradient-based regrowth: called with the dense dW once.
using DenseGradHook = std::function<void(const Tensor&)>;

// The structure alone (values travel separately), as saved by backward nodes.
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

const SparseKernel& pick(const sparse::SparseParameter& w, Device dev, const SparseKernel* k) {
  const SparseKernel& kk = k ? *k : kernels::selected_sparse_kernel(
      dev.is_cuda() ? kernels::KernelDevice::Cuda : kernels::KernelDevice::Cpu, sparse::format_of(w));
  SPROUT_CHECK((kk.device == kernels::KernelDevice::Cuda) == dev.is_cuda(), "sparse kernel '", kk.name,
               "' runs on ", kernels::kernel_device_name(kk.device), ", data is on ", dev.str());
  SPROUT_CHECK(kk.format == sparse::format_of(w), "sparse kernel '", kk.name, "' takes ",
               kernels::sparse_format_name(kk.format), ", the weight is ",
               kernels::sparse_format_name(sparse::format_of(w)));
  return kk;
}

template <class T> const kernels::SparseKernelFns<T>& fns_of(const SparseKernel& k);
template <> const kernels::SparseKernelFns<float>& fns_of<float>(const SparseKernel& k) { return k.f32; }
template <> const kernels::SparseKernelFns<double>& fns_of<double>(const SparseKernel& k) { return k.f64; }

void* workspace(size_t bytes, Device dev, Tensor& holder) {
  if (bytes == 0) return nullptr;
  holder = Tensor::empty({(int64_t)bytes}, DType::U8, dev, MemCategory::Workspace);
  return holder.raw_data();
}

template <class F>
void for_dtype(const Tensor& t, const char* op, F&& f) {
  if (t.is_cuda()) check_cuda_f32(t, op);
  dispatch_float(t.dtype(), op, f);
}

// Splits a [K, n] or [B, K, n] tensor into (batch, K, n).
void batch_dims(const Tensor& t, int64_t* batch, int64_t* k, int64_t* n, const char* op) {
  SPROUT_CHECK(t.dim() == 2 || t.dim() == 3, op, ": expected [K, n] or [B, K, n], got ",
               shape_str(t.shape()));
  *batch = t.dim() == 3 ? t.size(0) : 1;
  *k = t.size(-2);
  *n = t.size(-1);
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

}  // namespace

// ---- raw products -----------------------------------------------------------------

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
    t = sparse::cached_transpose(w.row_ptr, w.col_idx, sparse::grid_rows(w), sparse::grid_cols(w));
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
    a.stream = kernels::cuda::stream();
    Tensor ws;
    if (f.spmm_workspace) {
      a.workspace_bytes = f.spmm_workspace(a);
      a.workspace = workspace(a.workspace_bytes, values.device(), ws);
    }
    f.spmm(a);
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

void sddmm_into(const sparse::SparseParameter& w, const Tensor& x, const Tensor& y, Tensor& out,
                bool accumulate, const SparseKernel* kernel) {
  check_values(w, out, "sddmm");
  check_same(x, y, "sddmm");
  check_same(x, out, "sddmm");
  int64_t bx, rx, nx, by, ry, ny;
  batch_dims(x, &bx, &rx, &nx, "sddmm");
  batch_dims(y, &by, &ry, &ny, "sddmm");
  SPROUT_CHECK(rx == w.rows && ry == w.cols && nx == ny && bx == by, "sddmm: x ",
               shape_str(x.shape()), " and y ", shape_str(y.shape()), " for a ", w.rows, " x ",
               w.cols, " structure");
  const SparseKernel& kk = pick(w, x.device(), kernel);
  for_dtype(x, "sddmm", [&](auto tag) {
    using T = decltype(tag);
    const auto& f = fns_of<T>(kk);
    SPROUT_CHECK(f.sddmm, "sparse kernel '", kk.name, "' has no ", dtype_name(x.dtype()), " SDDMM");
    kernels::SddmmArgs<T> a;
    a.a = sparse::operand<T>(w, Tensor(), nullptr);
    a.n = nx;
    a.batch = bx;
    a.x = x.data<T>();
    a.ldx = nx;
    a.stride_x = rx * nx;
    a.y = y.data<T>();
    a.ldy = ny;
    a.stride_y = ry * ny;
    a.out = out.data<T>();
    a.accumulate = accumulate;
    a.stream = kernels::cuda::stream();
    Tensor ws;
    if (f.sddmm_workspace) {
      a.workspace_bytes = f.sddmm_workspace(a);
      a.workspace = workspace(a.workspace_bytes, x.device(), ws);
    }
    f.sddmm(a);
  });
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

Tensor sparse_linear(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias) {
  check_values(w, w.values, "sparse_linear");
  check_same(x, w.values, "sparse_linear");
  SPROUT_CHECK(x.dim() == 2 && x.size(1) == w.cols, "sparse_linear: input ", shape_str(x.shape()),
               " for a ", w.rows, " x ", w.cols, " weight");
  if (bias.defined())
    SPROUT_CHECK(bias.numel() == w.rows, "sparse_linear: bias of ", bias.numel(), " for ", w.rows, " outputs");
  const bool grad = autograd::needs_grad({&x, &w.values, &bias});
  // x^T is kept for the weight gradient, so it counts as an activation when saved.
  Tensor xt = transpose2d(x, grad ? current_mem_category() : MemCategory::Workspace);
  Tensor y = spmm_transposed(w, w.values, false, xt, current_mem_category(), bias);
  if (grad) {
    sparse::SparseParameter s = structure_of(w);
    Tensor values = w.values.detach();
    const bool gx = x.requires_grad(), gv = w.values.requires_grad(), gb = bias.defined() && bias.requires_grad();
    DenseGradHook hook = w.dense_grad_hook;
    autograd::record(y, std::make_shared<FunctionNode>("sparse_linear",
        [s, values, xt, gx, gv, gb, hook](const Tensor& g) {
      Tensor gt = transpose2d(g, MemCategory::Workspace);
      Tensor dx, dv, db;
      if (gx) dx = spmm_transposed(s, values, true, gt, current_mem_category());
      if (gv) {
        dv = Tensor::empty(values.shape(), values.dtype(), values.device());
        sddmm_into(s, gt, xt, dv);
      }
      if (gb) db = row_sums(gt);
      if (hook) {
        Tensor dense = Tensor::empty({s.rows, s.cols}, gt.dtype(), gt.device(), MemCategory::Workspace);
        gemm_into(false, true, gt, xt, dense);
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
  if (autograd::needs_grad({&cols, &w.values})) {
    sparse::SparseParameter s = structure_of(w);
    Tensor values = w.values.detach(), saved = cols.detach();
    const bool gc = cols.requires_grad(), gv = w.values.requires_grad();
    DenseGradHook hook = w.dense_grad_hook;
    autograd::record(y, std::make_shared<FunctionNode>("sparse_matmul_cols",
        [s, values, saved, gc, gv, hook](const Tensor& g) {
      Tensor dc, dv;
      if (gc) {
        dc = Tensor::empty(saved.shape(), saved.dtype(), saved.device());
        spmm_into(s, values, true, g, dc);
      }
      if (gv) {
        dv = Tensor::empty(values.shape(), values.dtype(), values.device());
        sddmm_into(s, g, saved, dv);
      }
      if (hook) hook(dense_grad_cols(s, g, saved));
      return std::vector<Tensor>{dc, dv};
    }), {&cols, &w.values});
  }
  return y;
}

// ---- sparse_conv2d ------------------------------------------------------------------

namespace {

size_t g_im2col_budget = size_t(64) << 20;

struct ConvGeom {
  int64_t N, C, H, W, k, stride, pad, Ho, Wo;
  int64_t P() const { return Ho * Wo; }
};

// Images [n0, n0 + nb) of x -> cols [K, nb * P].
void unfold(const Tensor& x, const ConvGeom& g, int64_t n0, int64_t nb, Tensor& cols) {
  const int64_t off = n0 * g.C * g.H * g.W;
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::im2col_batch(x.data<float>() + off, nb, g.C, g.H, g.W, g.k, g.k, g.stride,
                                               g.pad, cols.data<float>(), stream()));
  } else {
    dispatch_float(x.dtype(), "sparse_conv2d", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::im2col_batch<T>(x.data<T>() + off, nb, g.C, g.H, g.W, g.k, g.k, g.stride, g.pad, cols.data<T>());
    });
  }
}

// dx images [n0, n0 + nb) += fold(dcols).
void fold(const Tensor& dcols, const ConvGeom& g, int64_t n0, int64_t nb, Tensor& dx) {
  const int64_t off = n0 * g.C * g.H * g.W;
  if (dx.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::col2im_batch(dcols.data<float>(), nb, g.C, g.H, g.W, g.k, g.k, g.stride, g.pad,
                                               dx.data<float>() + off, stream()));
  } else {
    dispatch_float(dx.dtype(), "sparse_conv2d", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::col2im_batch<T>(dcols.data<T>(), nb, g.C, g.H, g.W, g.k, g.k, g.stride, g.pad, dx.data<T>() + off);
    });
  }
}

// [O, nb * P] <-> images [n0, n0 + nb) of an [N, O, P] tensor.
void scatter_nchw(const Tensor& yc, int64_t O, int64_t P, int64_t n0, int64_t nb, Tensor& y) {
  const int64_t off = n0 * O * P;
  if (y.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::cnhw_to_nchw(yc.data<float>(), nullptr, nb, O, P, y.data<float>() + off, stream()));
  } else {
    dispatch_float(y.dtype(), "sparse_conv2d", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::cnhw_to_nchw<T>(yc.data<T>(), (const T*)nullptr, nb, O, P, y.data<T>() + off);
    });
  }
}
void gather_cnhw(const Tensor& g, int64_t O, int64_t P, int64_t n0, int64_t nb, Tensor& gc) {
  const int64_t off = n0 * O * P;
  if (g.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::nchw_to_cnhw(g.data<float>() + off, nb, O, P, gc.data<float>(), stream()));
  } else {
    dispatch_float(g.dtype(), "sparse_conv2d", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::nchw_to_cnhw<T>(g.data<T>() + off, nb, O, P, gc.data<T>());
    });
  }
}

}  // namespace

size_t im2col_budget_bytes() { return g_im2col_budget; }
void set_im2col_budget_bytes(size_t bytes) { g_im2col_budget = bytes; }

Tensor sparse_conv2d(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias, int64_t kernel,
                     int64_t stride, int64_t pad) {
  SPROUT_CHECK(x.dim() == 4, "sparse_conv2d: input must be [N, C, H, W], got ", shape_str(x.shape()));
  ConvGeom g{x.size(0), x.size(1), x.size(2), x.size(3), kernel, stride, pad, 0, 0};
  SPROUT_CHECK(w.cols == g.C * kernel * kernel, "sparse_conv2d: weight has ", w.cols, " columns, input gives ",
               g.C, " x ", kernel, " x ", kernel);
  g.Ho = kernels::cpu::conv_out_size(g.H, kernel, stride, pad);
  g.Wo = kernels::cpu::conv_out_size(g.W, kernel, stride, pad);
  SPROUT_CHECK(g.Ho > 0 && g.Wo > 0, "sparse_conv2d: kernel ", kernel, " does not fit a ", g.H, "x", g.W, " input");
  if (kernel == 1 && stride == 1 && pad == 0) {
    Tensor y = sparse_matmul_cols(w, reshape(x, {g.N, g.C, g.H * g.W}));
    y = reshape(y, {g.N, w.rows, g.H, g.W});
    return bias.defined() ? add_bias(y, bias) : y;
  }
  check_values(w, w.values, "sparse_conv2d");
  check_same(x, w.values, "sparse_conv2d");
  const int64_t K = w.cols, P = g.P(), O = w.rows;
  const size_t per_image = (size_t)(K + O) * (size_t)P * dtype_size(x.dtype());
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.N, (int64_t)(g_im2col_budget / per_image)));
  Tensor y = Tensor::empty({g.N, O, g.Ho, g.Wo}, x.dtype(), x.device());
  sparse::SparseParameter s = structure_of(w);
  // Forward, chunk by chunk: cols = im2col(x chunk), Y = W cols, then back to NCHW.
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    Tensor cols = Tensor::empty({K, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    Tensor yc = Tensor::empty({O, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    unfold(x, g, n0, nb, cols);
    spmm_into(s, w.values, false, cols, yc);
    scatter_nchw(yc, O, P, n0, nb, y);
  }
  if (autograd::needs_grad({&x, &w.values})) {
    Tensor values = w.values.detach(), saved = x.detach();
    const bool gx = x.requires_grad(), gv = w.values.requires_grad();
    DenseGradHook hook = w.dense_grad_hook;
    autograd::record(y, std::make_shared<FunctionNode>("sparse_conv2d",
        [s, values, saved, gx, gv, hook, g, chunk](const Tensor& gy) {
      const int64_t K = s.cols, O = s.rows, P = g.P();
      Tensor dx, dv, dense;
      if (gx) dx = Tensor::zeros(saved.shape(), saved.dtype(), saved.device());
      if (gv) dv = Tensor::empty(values.shape(), values.dtype(), values.device());
      if (hook) dense = Tensor::zeros({O, K}, saved.dtype(), saved.device(), MemCategory::Workspace);
      for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
        const int64_t nb = std::min(chunk, g.N - n0);
        Tensor gc = Tensor::empty({O, nb * P}, gy.dtype(), gy.device(), MemCategory::Workspace);
        gather_cnhw(gy, O, P, n0, nb, gc);
        Tensor cols = Tensor::empty({K, nb * P}, saved.dtype(), saved.device(), MemCategory::Workspace);
        if (gv || hook) unfold(saved, g, n0, nb, cols);  // recomputed: columns are never saved
        if (gv) sddmm_into(s, gc, cols, dv, n0 > 0);
        if (hook) gemm_into(false, true, gc, cols, dense, 1.0);
        if (gx) {
          spmm_into(s, values, true, gc, cols);  // cols now holds d(cols)
          fold(cols, g, n0, nb, dx);
        }
      }
      if (hook) hook(dense);
      return std::vector<Tensor>{dx, dv};
    }), {&x, &w.values});
  }
  return bias.defined() ? add_bias(y, bias) : y;
}

}  // namespace sprout::ops
