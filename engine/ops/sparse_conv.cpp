// Sparse convolution: a direct SpMM for 1x1 convolutions; with CSR and a kernel that
// reads rows at offsets (every CPU kernel, cuda_rowsplit on the GPU) the unfolding-free
// product (sparse_conv_implicit.h); else unfolded chunks of the batch times the sparse
// weight. The weight gradient by SDDMM at the stored entries.
#include "engine/ops/sparse_conv.h"

#include <algorithm>
#include <atomic>

#include "engine/autograd/saved.h"
#include "engine/ops/conv_raw.h"
#include "engine/ops/densify.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"
#include "engine/ops/sddmm.h"
#include "engine/ops/shape.h"
#include "engine/ops/sparse_conv_implicit.h"
#include "engine/ops/sparse_support.h"
#include "engine/ops/spmm.h"
#include "engine/ops/im2col.h"
#include "kernels/cpu/im2col.h"

namespace sprout::ops {

using autograd::FunctionNode;
using kernels::SparseKernel;
using namespace detail;

// What the backward pass of one unfolded sparse convolution keeps.
struct SparseConvSaved {
  sparse::SparseParameter s;  // the structure
  Tensor values;
  autograd::SavedTensor x;  // rebuilt in backward when its producer can
  bool gx, gv;
  DenseGradHook hook;
  ConvGeometry g;
  int64_t chunk;    // images per unfolded chunk
  double columns;   // N * Hout * Wout: the product's dense columns
  bool implicit;    // backward without unfolding (not when a regrowth hook wants dense dW)
};

static std::atomic<SparseConvPath> g_path{SparseConvPath::Auto};

void set_sparse_conv_path(SparseConvPath p) { g_path = p; }
SparseConvPath sparse_conv_path() { return g_path; }

// dx and dv chunk by chunk: the columns are unfolded again (never saved), the SDDMM
// gives the values' gradient, W^T times the output gradient folds back into dx.
static std::vector<Tensor> sparse_conv_backward(const SparseConvSaved& c, const Tensor& gy) {
  const sparse::SparseParameter& s = c.s;
  const ConvGeometry& g = c.g;
  const Tensor x = c.x.get();
  if (c.implicit && !c.hook) {
    std::vector<Tensor> d = implicit_conv_backward(s, c.values, x, c.gx, c.gv, g, gy);
    if (c.gx) count_sparse_flops(FlopPass::InputGrad, s, c.columns);
    if (c.gv) count_sparse_flops(FlopPass::WeightGrad, s, c.columns);
    return d;
  }
  const int64_t K = s.cols, O = s.rows, P = g.HW();
  Tensor dx, dv, dense;
  if (c.gx) dx = Tensor::zeros(x.shape(), x.dtype(), x.device());
  if (c.gv) dv = Tensor::empty(c.values.shape(), c.values.dtype(), c.values.device());
  if (c.hook) dense = Tensor::zeros({O, K}, x.dtype(), x.device(), MemCategory::Workspace);
  // The CSC view for every chunk's W^T product, built once per pass.
  const sparse::SparseParameter st = c.gx ? with_transpose(s, x.device(), false) : s;
  for (int64_t n0 = 0; n0 < g.N; n0 += c.chunk) {
    const int64_t nb = std::min(c.chunk, g.N - n0);
    Tensor gc = Tensor::empty({O, nb * P}, gy.dtype(), gy.device(), MemCategory::Workspace);
    nchw_to_cnhw(gy, g, n0, nb, gc);
    Tensor cols = Tensor::empty({K, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    if (c.gv || c.hook) unfold(x, g, n0, nb, cols);
    if (c.gv) sddmm_into(s, gc, cols, dv, n0 > 0);
    if (c.hook) gemm_into(false, true, gc, cols, dense, 1.0);
    if (c.gx) {
      spmm_into(st, c.values, true, gc, cols);  // cols now holds d(cols)
      fold_add(cols, g, n0, nb, dx);
    }
  }
  if (c.gx) count_sparse_flops(FlopPass::InputGrad, s, c.columns);
  if (c.gv) count_sparse_flops(FlopPass::WeightGrad, s, c.columns);
  if (c.hook) {
    c.hook(dense);
    count_hook_flops(s, c.columns);
  }
  return {dx, dv};
}

// What the dense route's backward keeps: the structure and values (the dense copy is
// made again rather than held between the passes) and the input.
struct DenseRouteSaved {
  sparse::SparseParameter s;
  Tensor values;
  autograd::SavedTensor x;
  bool gx, gv;
  DenseGradHook hook;
  ConvGeometry g;
  double columns;
};

// The dense convolution with a dense copy of w (densify.h); dv read back at the entries.
static Tensor dense_route_conv(const Tensor& x, sparse::SparseParameter& w, const ConvGeometry& g) {
  const Shape ws{g.O, g.C, g.kh, g.kw};
  Tensor y = conv_forward_raw(g, x, dense_copy(w, w.values).view(ws), Tensor());
  const double columns = (double)g.N * (double)g.HW();
  count_sparse_flops(FlopPass::Forward, w, columns);
  if (!autograd::needs_grad({&x, &w.values})) return y;
  DenseRouteSaved c{structure_of(w), w.values.detach(), autograd::SavedTensor(x), x.requires_grad(),
                    w.values.requires_grad(), w.dense_grad_hook, g, columns};
  autograd::record(y, std::make_shared<FunctionNode>("sparse_conv2d", [c, ws](const Tensor& gy) {
    const bool gw = c.gv || c.hook;
    std::vector<Tensor> d = conv_backward_raw(c.g, c.x.get(), dense_copy(c.s, c.values).view(ws), gy, c.gx, gw,
                                                false, MemCategory::Workspace);
    if (c.gx) count_sparse_flops(FlopPass::InputGrad, c.s, c.columns);
    Tensor dv = gw ? values_grad_from_dense(c.s, d[1], c.values, c.gv, c.hook, c.columns) : Tensor();
    return std::vector<Tensor>{d[0], dv};
  }), {&x, &w.values});
  return y;
}

// Y = W im2col(x), chunk by chunk of images, back to NCHW.
static Tensor sparse_conv_forward(const Tensor& x, const sparse::SparseParameter& w, const ConvGeometry& g,
                                  int64_t chunk) {
  const int64_t K = w.cols, P = g.HW(), O = w.rows;
  Tensor y = Tensor::empty({g.N, O, g.Hout, g.Wout}, x.dtype(), x.device());
  const sparse::SparseParameter s = structure_of(w);
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    Tensor cols = Tensor::empty({K, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    Tensor yc = Tensor::empty({O, nb * P}, x.dtype(), x.device(), MemCategory::Workspace);
    unfold(x, g, n0, nb, cols);
    spmm_into(s, w.values, false, cols, yc);
    cnhw_to_nchw(yc, Tensor(), g, n0, nb, y);
  }
  return y;
}

Tensor sparse_conv2d(const Tensor& x, sparse::SparseParameter& w, const Tensor& bias, int64_t kernel,
                     int64_t stride, int64_t pad) {
  SPROUT_CHECK(x.dim() == 4, "sparse_conv2d: input must be [N, C, H, W], got ", shape_str(x.shape()));
  ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.rows, kernel, kernel, stride, pad, 0, 0};
  SPROUT_CHECK(w.cols == g.C * kernel * kernel, "sparse_conv2d: weight has ", w.cols, " columns, input gives ",
               g.C, " x ", kernel, " x ", kernel);
  g.Hout = kernels::cpu::conv_out_size(g.H, kernel, stride, pad);
  g.Wout = kernels::cpu::conv_out_size(g.W, kernel, stride, pad);
  SPROUT_CHECK(g.Hout > 0 && g.Wout > 0, "sparse_conv2d: kernel ", kernel, " does not fit a ", g.H, "x", g.W, " input");
  if (computes_dense(w)) {
    check_values(w, w.values, "sparse_conv2d");
    check_same(x, w.values, "sparse_conv2d");
    Tensor y = dense_route_conv(x, w, g);
    return bias.defined() ? add_bias(y, bias) : y;
  }
  if (kernel == 1 && stride == 1 && pad == 0) {
    Tensor y = sparse_matmul_cols(w, reshape(x, {g.N, g.C, g.H * g.W}));
    y = reshape(y, {g.N, w.rows, g.H, g.W});
    return bias.defined() ? add_bias(y, bias) : y;
  }
  const SparseConvPath path = sparse_conv_path();
  // A strided 1x1 convolution is the 1x1 product of the subsampled input.
  if (kernel == 1 && pad == 0 && path != SparseConvPath::Unfold && !x.is_cuda())
    return sparse_conv2d(avg_pool2d(x, 1, stride, 0), w, bias, 1, 1, 0);
  check_values(w, w.values, "sparse_conv2d");
  check_same(x, w.values, "sparse_conv2d");
  const int64_t chunk = conv_chunk_images(g.N, (size_t)(w.cols + w.rows) * (size_t)g.HW() * dtype_size(x.dtype()));
  const bool possible = path != SparseConvPath::Unfold && implicit_conv_possible(w, x.device(), g);
  const bool forced = path == SparseConvPath::Implicit;
  const bool implicit = possible && (forced || implicit_conv_pays(g, false));
  const bool implicit_backward = possible && (forced || implicit_conv_pays(g, true));
  SPROUT_CHECK(implicit || path != SparseConvPath::Implicit, "sparse_conv2d: the unfolding-free path needs a CSR ",
               "weight on the CPU (or in float32 on CUDA) with a kernel that reads rows at offsets (weight block ",
               w.block, ", on ", x.device().str(), ", kernel ", pick(w, x.device(), nullptr).name, ")");
  Tensor y = implicit ? implicit_conv_forward(x, structure_of(w), w.values, g) : sparse_conv_forward(x, w, g, chunk);
  const double columns = (double)g.N * (double)g.HW();
  count_sparse_flops(FlopPass::Forward, w, columns);
  if (autograd::needs_grad({&x, &w.values})) {
    SparseConvSaved c{structure_of(w), w.values.detach(), autograd::SavedTensor(x), x.requires_grad(), w.values.requires_grad(),
                      w.dense_grad_hook, g, chunk, columns, implicit_backward};
    autograd::record(y, std::make_shared<FunctionNode>(
                            "sparse_conv2d", [c](const Tensor& gy) { return sparse_conv_backward(c, gy); }),
                     {&x, &w.values});
  }
  return bias.defined() ? add_bias(y, bias) : y;
}

}  // namespace sprout::ops
