// conv2d forward and backward. The batch is processed in chunks whose im2col columns
// fit in conv_workspace_bytes() (allocated under MemCategory::Workspace), so one GEMM
// covers a whole chunk: Y[O, b*HW] = W[O, K] cols[K, b*HW], then a shuffle to NCHW.
// Backward: dW += dY cols^T, dcols = W^T dY folded back by col2im. On the CPU, a 1x1
// stride-1 unpadded conv skips im2col: each image already is its column matrix.
#include "engine/ops/conv.h"

#include <algorithm>
#include <type_traits>

#include "engine/autograd/saved.h"
#include "engine/core/dispatch.h"
#include "engine/core/flops.h"
#include "engine/ops/conv_raw.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"

namespace sprout::ops {

namespace kc = kernels::cpu;

namespace {

ConvAlgo g_cuda_algo = ConvAlgo::Im2col;

// The GEMM and bias primitives the chunk loops need, on one device and element type.
// CUDA kernels exist for float only; `if constexpr` keeps the double instantiation
// CPU-only. The unfolding itself is engine/ops/im2col.h, shared with sparse_conv.
template <class T>
struct Prims {
  bool cuda;
  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
            const T* b, int64_t ldb, T beta, T* c, int64_t ldc) const {
    if (!cuda) return kc::gemm<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
    if constexpr (std::is_same<T, float>::value)
      SPROUT_ON_CUDA(kernels::cuda::gemm(ta, tb, m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc, stream()));
  }
  void add_bias(const T* y, const T* bias, int64_t n, int64_t o, int64_t hw, T* out) const {
    if (!cuda) return kc::add_bias<T>(y, bias, out, n, o, hw);
    if constexpr (std::is_same<T, float>::value)
      SPROUT_ON_CUDA(kernels::cuda::add_bias(y, bias, out, n, o, hw, stream()));
  }
  void bias_grad(const T* dy, int64_t n, int64_t o, int64_t hw, T* db) const {
    if (!cuda) return kc::bias_grad<T>(dy, db, n, o, hw);
    if constexpr (std::is_same<T, float>::value)
      SPROUT_ON_CUDA(kernels::cuda::bias_grad(dy, db, n, o, hw, stream()));
  }
};

bool direct_pointwise(const ConvGeometry& g, bool cuda) {
  // Per-image GEMMs are efficient on the CPU once an image has enough pixels; on the
  // GPU one batched GEMM beats many small launches.
  return !cuda && g.pointwise() && g.HW() >= 64;
}

template <class T>
void forward_im2col(const Prims<T>& p, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                    const Tensor& bias, Tensor& y) {
  const int64_t K = g.K(), HW = g.HW();
  const T* wp = w.data<T>();
  if (direct_pointwise(g, p.cuda)) {
    for (int64_t n = 0; n < g.N; ++n)
      p.gemm(false, false, g.O, HW, K, wp, K, x.data<T>() + n * g.CHW(), HW, T(0), y.data<T>() + n * g.O * HW, HW);
    if (bias.defined()) p.add_bias(y.data<T>(), bias.data<T>(), g.N, g.O, HW, y.data<T>());
    return;
  }
  const int64_t b = conv_chunk_images(g.N, (size_t)((K + g.O) * HW) * sizeof(T));
  MemoryScope ws(MemCategory::Workspace);
  Tensor cols = Tensor::empty({K * b * HW}, x.dtype(), x.device());
  Tensor tmp = Tensor::empty({g.O * b * HW}, x.dtype(), x.device());
  for (int64_t n0 = 0; n0 < g.N; n0 += b) {
    const int64_t bb = std::min(b, g.N - n0);
    unfold(x, g, n0, bb, cols);
    p.gemm(false, false, g.O, bb * HW, K, wp, K, cols.data<T>(), bb * HW, T(0), tmp.data<T>(), bb * HW);
    cnhw_to_nchw(tmp, bias, g, n0, bb, y);
  }
}

// dx (zeroed by the caller unless the direct 1x1 product writes it) and dw (overwritten)
// may be undefined when not wanted.
template <class T>
void backward_im2col(const Prims<T>& p, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                     const Tensor& dy, Tensor& dx, Tensor& dw) {
  const int64_t K = g.K(), HW = g.HW(), CHW = g.CHW();
  const T* wp = w.data<T>();
  T* dwp = dw.defined() ? dw.data<T>() : nullptr;
  if (direct_pointwise(g, p.cuda)) {
    for (int64_t n = 0; n < g.N; ++n) {
      const T* dyn = dy.data<T>() + n * g.O * HW;
      if (dwp) p.gemm(false, true, g.O, K, HW, dyn, HW, x.data<T>() + n * CHW, HW, n ? T(1) : T(0), dwp, K);
      if (dx.defined()) p.gemm(true, false, K, HW, g.O, wp, K, dyn, HW, T(0), dx.data<T>() + n * CHW, HW);
    }
    return;
  }
  const int64_t b = conv_chunk_images(g.N, (size_t)((K + g.O) * HW) * sizeof(T));
  MemoryScope ws(MemCategory::Workspace);
  Tensor cols = Tensor::empty({K * b * HW}, x.dtype(), x.device());
  Tensor dyt = Tensor::empty({g.O * b * HW}, x.dtype(), x.device());
  for (int64_t n0 = 0; n0 < g.N; n0 += b) {
    const int64_t bb = std::min(b, g.N - n0), m = bb * HW;
    nchw_to_cnhw(dy, g, n0, bb, dyt);
    if (dwp) {
      unfold(x, g, n0, bb, cols);
      p.gemm(false, true, g.O, K, m, dyt.data<T>(), m, cols.data<T>(), m, n0 ? T(1) : T(0), dwp, K);
    }
    if (dx.defined()) {
      // The columns are spent: reuse their buffer for dcols.
      p.gemm(true, false, K, m, g.O, wp, K, dyt.data<T>(), m, T(0), cols.data<T>(), m);
      fold_add(cols, g, n0, bb, dx);
    }
  }
}

bool use_cudnn(const Tensor& x) { return x.is_cuda() && g_cuda_algo == ConvAlgo::Cudnn; }

[[maybe_unused]] Tensor workspace_bytes(size_t bytes, Device dev) {
  MemoryScope ws(MemCategory::Workspace);
  return Tensor::empty({(int64_t)std::max<size_t>(bytes, 1)}, DType::U8, dev);
}

}  // namespace

Tensor conv_forward_raw(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias) {
  Tensor y = Tensor::empty({g.N, g.O, g.Hout, g.Wout}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  if (use_cudnn(x)) {
    SPROUT_ON_CUDA({
      kernels::cuda::ConvGeometry cg{g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.stride, g.pad};
      Tensor ws = workspace_bytes(kernels::cuda::conv_cudnn_workspace_bytes(cg, kernels::cuda::CudnnConvPass::Forward), x.device());
      kernels::cuda::conv_cudnn_forward(cg, x.data<float>(), w.data<float>(), y.data<float>(),
                                        ws.raw_data(), (size_t)ws.numel(), stream());
      if (bias.defined())
        kernels::cuda::add_bias(y.data<float>(), bias.data<float>(), y.data<float>(), g.N, g.O, g.HW(), stream());
    });
    return y;
  }
  dispatch_float(x.dtype(), "conv2d", [&](auto t) {
    using T = decltype(t);
    Prims<T> p{x.is_cuda()};
    forward_im2col<T>(p, g, x, w, bias, y);
  });
  return y;
}

std::vector<Tensor> conv_backward_raw(const ConvGeometry& g, const Tensor& x, const Tensor& w,
                                      const Tensor& dy_in, bool gx, bool gw, bool gb, MemCategory dw_category) {
  Tensor dy = dy_in.view({g.N, g.O, g.Hout, g.Wout});
  // cuDNN overwrites dx and dw (beta 0). The GEMM path writes dw from its first chunk on,
  // and dx image by image when it multiplies a CPU 1x1 input directly; otherwise it folds
  // the columns into a zeroed dx.
  const bool any = dy.numel() > 0, cudnn = use_cudnn(x) && any;
  const bool dx_written = cudnn || (any && direct_pointwise(g, x.is_cuda()));
  auto buffer = [&](const Shape& shape, MemCategory cat, bool written) {
    return written ? Tensor::empty(shape, x.dtype(), x.device(), cat) : Tensor::zeros(shape, x.dtype(), x.device(), cat);
  };
  Tensor dx, dw, db;
  if (gx) dx = buffer(x.shape(), current_mem_category(), dx_written);
  if (gw) dw = buffer(w.shape(), dw_category, any);
  if (gb) db = Tensor::zeros({g.O}, x.dtype(), x.device());
  if (dy.numel() == 0) return {dx, dw, db};
  if (cudnn) {
    SPROUT_ON_CUDA({
      kernels::cuda::ConvGeometry cg{g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.stride, g.pad};
      using kernels::cuda::CudnnConvPass;
      if (gx) {
        Tensor ws = workspace_bytes(kernels::cuda::conv_cudnn_workspace_bytes(cg, CudnnConvPass::BackwardData), x.device());
        kernels::cuda::conv_cudnn_backward_data(cg, w.data<float>(), dy.data<float>(), dx.data<float>(),
                                                ws.raw_data(), (size_t)ws.numel(), stream());
      }
      if (gw) {
        Tensor ws = workspace_bytes(kernels::cuda::conv_cudnn_workspace_bytes(cg, CudnnConvPass::BackwardFilter), x.device());
        kernels::cuda::conv_cudnn_backward_filter(cg, x.data<float>(), dy.data<float>(), dw.data<float>(),
                                                  ws.raw_data(), (size_t)ws.numel(), stream());
      }
      if (gb) kernels::cuda::bias_grad(dy.data<float>(), db.data<float>(), g.N, g.O, g.HW(), stream());
    });
    return {dx, dw, db};
  }
  dispatch_float(x.dtype(), "conv2d backward", [&](auto t) {
    using T = decltype(t);
    Prims<T> p{x.is_cuda()};
    if (gx || gw) backward_im2col<T>(p, g, x, w, dy, dx, dw);
    if (gb) p.bias_grad(dy.data<T>(), g.N, g.O, g.HW(), db.data<T>());
  });
  return {dx, dw, db};
}

bool cudnn_compiled() { return SPROUT_WITH_CUDNN != 0; }

void set_cuda_conv_algo(ConvAlgo algo) {
  SPROUT_CHECK(algo != ConvAlgo::Cudnn || cudnn_compiled(),
               "set_cuda_conv_algo: cuDNN requested, but sprout was built without cuDNN");
  g_cuda_algo = algo;
}

ConvAlgo cuda_conv_algo() { return g_cuda_algo; }

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride,
              int64_t padding) {
  check_same(x, w, "conv2d");
  SPROUT_CHECK(x.dim() == 4 && w.dim() == 4 && x.size(1) == w.size(1), "conv2d: input ",
               shape_str(x.shape()), " [N, C, H, W] and weight ", shape_str(w.shape()),
               " [O, C, kh, kw] disagree");
  SPROUT_CHECK(stride >= 1 && padding >= 0, "conv2d: stride ", stride, " padding ", padding);
  ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
             stride, padding, 0, 0};
  g.Hout = kc::conv_out_size(g.H, g.kh, stride, padding);
  g.Wout = kc::conv_out_size(g.W, g.kw, stride, padding);
  SPROUT_CHECK(g.H + 2 * padding >= g.kh && g.W + 2 * padding >= g.kw, "conv2d: kernel ",
               g.kh, "x", g.kw, " larger than the padded input ", shape_str(x.shape()),
               " (padding ", padding, ")");
  if (bias.defined()) {
    check_same(x, bias, "conv2d bias");
    SPROUT_CHECK(bias.numel() == g.O, "conv2d: bias ", shape_str(bias.shape()), " for ", g.O,
                 " output channels");
  }
  if (x.is_cuda()) check_cuda_f32(x, "conv2d");
  Tensor y = conv_forward_raw(g, x, w, bias);
  const double flops = 2.0 * (double)g.N * (double)g.HW() * (double)g.O * (double)(g.C * g.kh * g.kw);
  count_flops(FlopPass::Forward, flops, flops);
  if (autograd::needs_grad({&x, &w, &bias})) {
    autograd::SavedTensor sx(x);  // rebuilt in backward when its producer can
    Tensor sw = w.detach();
    bool gx = x.requires_grad(), gw = w.requires_grad();
    bool gb = bias.defined() && bias.requires_grad();
    autograd::record(y, std::make_shared<autograd::FunctionNode>("conv2d",
        [g, sx, sw, gx, gw, gb, flops](const Tensor& dy) {
      if (gx) count_flops(FlopPass::InputGrad, flops, flops);
      if (gw) count_flops(FlopPass::WeightGrad, flops, flops);
      return conv_backward_raw(g, sx.get(), sw, dy, gx, gw, gb, current_mem_category());
    }), {&x, &w, &bias});
  }
  return y;
}

}  // namespace sprout::ops
