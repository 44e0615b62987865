// Sparse convolution: a direct SpMM for 1x1 convolutions, else unfolded chunks of the
// batch times the sparse weight; the weight gradient by SDDMM at the stored entries.
#include "engine/ops/sparse_conv.h"

#include <algorithm>

#include "engine/autograd/node.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/sddmm.h"
#include "engine/ops/shape.h"
#include "engine/ops/sparse_support.h"
#include "engine/ops/spmm.h"
#include "engine/ops/im2col.h"
#include "kernels/cpu/im2col.h"

namespace sprout::ops {

using autograd::FunctionNode;
using kernels::SparseKernel;
using namespace detail;

Tensor sparse_conv2d(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias, int64_t kernel,
                     int64_t stride, int64_t pad) {
  SPROUT_CHECK(x.dim() == 4, "sparse_conv2d: input must be [N, C, H, W], got ", shape_str(x.shape()));
  ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.rows, kernel, kernel, stride, pad, 0, 0};
  SPROUT_CHECK(w.cols == g.C * kernel * kernel, "sparse_conv2d: weight has ", w.cols, " columns, input gives ",
               g.C, " x ", kernel, " x ", kernel);
  g.Hout = kernels::cpu::conv_out_size(g.H, kernel, stride, pad);
  g.Wout = kernels::cpu::conv_out_size(g.W, kernel, stride, pad);
  SPROUT_CHECK(g.Hout > 0 && g.Wout > 0, "sparse_conv2d: kernel ", kernel, " does not fit a ", g.H, "x", g.W, " input");
  if (kernel == 1 && stride == 1 && pad == 0) {
    Tensor y = sparse_matmul_cols(w, reshape(x, {g.N, g.C, g.H * g.W}));
    y = reshape(y, {g.N, w.rows, g.H, g.W});
    return bias.defined() ? add_bias(y, bias) : y;
  }
  check_values(w, w.values, "sparse_conv2d");
  check_same(x, w.values, "sparse_conv2d");
  const int64_t K = w.cols, P = g.HW(), O = w.rows;
  const int64_t chunk = conv_chunk_images(g.N, (size_t)(K + O) * (size_t)P * dtype_size(x.dtype()));
  Tensor y = Tensor::empty({g.N, O, g.Hout, g.Wout}, x.dtype(), x.device());
  sparse::SparseParameter s = structure_of(w);
  // Forward, chunk by chunk: cols = im2col(x chunk), Y = W cols, then back to NCHW.
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    Tensor cols = Tensor::empty({K, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    Tensor yc = Tensor::empty({O, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    unfold(x, g, n0, nb, cols);
    spmm_into(s, w.values, false, cols, yc);
    cnhw_to_nchw(yc, Tensor(), g, n0, nb, y);
  }
  const double columns = (double)g.N * (double)P;
  count_sparse_flops(FlopPass::Forward, w, columns);
  if (autograd::needs_grad({&x, &w.values})) {
    Tensor values = w.values.detach(), saved = x.detach();
    const bool gx = x.requires_grad(), gv = w.values.requires_grad();
    DenseGradHook hook = w.dense_grad_hook;
    autograd::record(y, std::make_shared<FunctionNode>("sparse_conv2d",
        [s, values, saved, gx, gv, hook, g, chunk, columns](const Tensor& gy) {
      const int64_t K = s.cols, O = s.rows, P = g.HW();
      Tensor dx, dv, dense;
      if (gx) dx = Tensor::zeros(saved.shape(), saved.dtype(), saved.device());
      if (gv) dv = Tensor::empty(values.shape(), values.dtype(), values.device());
      if (hook) dense = Tensor::zeros({O, K}, saved.dtype(), saved.device(), MemCategory::Workspace);
      // The CSC view for every chunk's W^T product, built once per pass.
      const sparse::SparseParameter st = gx ? with_transpose(s, saved.device()) : s;
      for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
        const int64_t nb = std::min(chunk, g.N - n0);
        Tensor gc = Tensor::empty({O, nb * P}, gy.dtype(), gy.device(), MemCategory::Workspace);
        nchw_to_cnhw(gy, g, n0, nb, gc);
        Tensor cols = Tensor::empty({K, nb * P}, saved.dtype(), saved.device(), MemCategory::Workspace);
        if (gv || hook) unfold(saved, g, n0, nb, cols);  // recomputed: columns are never saved
        if (gv) sddmm_into(s, gc, cols, dv, n0 > 0);
        if (hook) gemm_into(false, true, gc, cols, dense, 1.0);
        if (gx) {
          spmm_into(st, values, true, gc, cols);  // cols now holds d(cols)
          fold_add(cols, g, n0, nb, dx);
        }
      }
      if (gx) count_sparse_flops(FlopPass::InputGrad, s, columns);
      if (gv) count_sparse_flops(FlopPass::WeightGrad, s, columns);
      if (hook) {
        hook(dense);
        count_hook_flops(s, columns);
      }
      return std::vector<Tensor>{dx, dv};
    }), {&x, &w.values});
  }
  return bias.defined() ? add_bias(y, bias) : y;
}

}  // namespace sprout::ops
