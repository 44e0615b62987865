// matmul and linear: GEMM forward; backward dA = dC B^T, dB = A^T dC.
#include "engine/ops/gemm.h"

#include "engine/autograd/node.h"
#include "engine/core/dispatch.h"
#include "engine/core/flops.h"
#include "engine/ops/elementwise.h"
#include "kernels/cpu/gemm.h"

namespace sprout::ops {

using autograd::FunctionNode;

void gemm_into(bool ta, bool tb, const Tensor& a, const Tensor& b, Tensor& c, double beta) {
  check_same(a, b, "gemm");
  check_same(a, c, "gemm");
  SPROUT_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2, "gemm: 2-D operands, got ",
               shape_str(a.shape()), " ", shape_str(b.shape()), " ", shape_str(c.shape()));
  int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
  int64_t kb = tb ? b.size(1) : b.size(0), n = tb ? b.size(0) : b.size(1);
  SPROUT_CHECK(k == kb && c.size(0) == m && c.size(1) == n, "gemm: shapes ",
               shape_str(a.shape()), (ta ? "^T" : ""), " x ", shape_str(b.shape()),
               (tb ? "^T" : ""), " -> ", shape_str(c.shape()));
  if (a.is_cuda()) {
    check_cuda_f32(a, "gemm");
    SPROUT_ON_CUDA(kernels::cuda::gemm(ta, tb, m, n, k, 1.f, a.data<float>(), a.size(1),
                                       b.data<float>(), b.size(1), (float)beta,
                                       c.data<float>(), n, stream()));
  } else {
    dispatch_float(a.dtype(), "gemm", [&](auto t) {
      using T = decltype(t);
      kernels::cpu::gemm<T>(ta, tb, m, n, k, T(1), a.data<T>(), a.size(1), b.data<T>(),
                            b.size(1), (T)beta, c.data<T>(), n);
    });
  }
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  SPROUT_CHECK(a.dim() == 2 && b.dim() == 2, "matmul: 2-D operands, got ",
               shape_str(a.shape()), " and ", shape_str(b.shape()));
  Tensor c = Tensor::empty({a.size(0), b.size(1)}, a.dtype(), a.device());
  gemm_into(false, false, a, b, c);
  if (autograd::needs_grad({&a, &b})) {
    Tensor sa = a.detach(), sb = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(c, std::make_shared<FunctionNode>("matmul", [sa, sb, ga, gb](const Tensor& g) {
      Tensor da, db;
      if (ga) { da = Tensor::empty(sa.shape(), sa.dtype(), sa.device()); gemm_into(false, true, g, sb, da); }
      if (gb) { db = Tensor::empty(sb.shape(), sb.dtype(), sb.device()); gemm_into(true, false, sa, g, db); }
      return std::vector<Tensor>{da, db};
    }), {&a, &b});
  }
  return c;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  SPROUT_CHECK(x.dim() == 2 && w.dim() == 2 && x.size(1) == w.size(1), "linear: input ",
               shape_str(x.shape()), " and weight ", shape_str(w.shape()));
  Tensor y = Tensor::empty({x.size(0), w.size(0)}, x.dtype(), x.device());
  gemm_into(false, true, x, w, y);
  const double flops = 2.0 * (double)x.size(0) * (double)w.size(0) * (double)w.size(1);
  count_flops(FlopPass::Forward, flops, flops);
  if (autograd::needs_grad({&x, &w})) {
    Tensor sx = x.detach(), sw = w.detach();
    bool gx = x.requires_grad(), gw = w.requires_grad();
    autograd::record(y, std::make_shared<FunctionNode>("linear", [sx, sw, gx, gw, flops](const Tensor& g) {
      Tensor dx, dw;
      if (gx) count_flops(FlopPass::InputGrad, flops, flops);
      if (gw) count_flops(FlopPass::WeightGrad, flops, flops);
      if (gx) { dx = Tensor::empty(sx.shape(), sx.dtype(), sx.device()); gemm_into(false, false, g, sw, dx); }
      if (gw) { dw = Tensor::empty(sw.shape(), sw.dtype(), sw.device()); gemm_into(true, false, g, sx, dw); }
      return std::vector<Tensor>{dx, dw};
    }), {&x, &w});
  }
  return bias.defined() ? add_bias(y, bias) : y;
}

}  // namespace sprout::ops
