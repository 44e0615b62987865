// DyReLU-B op: argument checks, CPU/CUDA dispatch, backward node. The coefficients
// are recomputed from theta in backward rather than saved (4 values per row).
#include "engine/ops/dyrelu.h"

#include "engine/autograd/node.h"
#include "engine/core/dispatch.h"
#include "kernels/cpu/dyrelu.h"

namespace sprout::ops {

using autograd::FunctionNode;

Tensor dyrelu(const Tensor& x, const Tensor& theta, double beta) {
  check_same(x, theta, "dyrelu");
  SPROUT_CHECK(x.dim() >= 2, "dyrelu: input must be [N, C, ...], got ", shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1), inner = n * c > 0 ? x.numel() / (n * c) : 0;
  SPROUT_CHECK(theta.numel() == n * c * 4 && theta.size(0) == n, "dyrelu: theta ", shape_str(theta.shape()),
               " must hold 4 coefficients per channel of ", shape_str(x.shape()));
  SPROUT_CHECK(beta >= 0.0 && beta <= 1.0, "dyrelu: beta ", beta, " not in [0, 1]");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    check_cuda_f32(x, "dyrelu");
    SPROUT_ON_CUDA(kernels::cuda::dyrelu_forward(x.data<float>(), theta.data<float>(), (float)beta,
                                                 y.data<float>(), n, c, inner, stream()));
  } else {
    dispatch_float(x.dtype(), "dyrelu", [&](auto t) {
      using T = decltype(t);
      kernels::cpu::dyrelu_forward<T>(x.data<T>(), theta.data<T>(), (T)beta, y.data<T>(), n, c, inner);
    });
  }
  if (autograd::needs_grad({&x, &theta})) {
    Tensor sx = x.detach(), st = theta.detach();
    bool gx = x.requires_grad(), gt = theta.requires_grad();
    autograd::record(y, std::make_shared<FunctionNode>("dyrelu", [sx, st, beta, n, c, inner, gx, gt](const Tensor& g) {
      Tensor dx = gx ? Tensor::empty(sx.shape(), sx.dtype(), sx.device()) : Tensor();
      Tensor dt = gt ? Tensor::empty(st.shape(), st.dtype(), st.device()) : Tensor();
      if (sx.is_cuda()) {
        SPROUT_ON_CUDA(kernels::cuda::dyrelu_backward(sx.data<float>(), st.data<float>(), (float)beta,
                                                      g.data<float>(), gx ? dx.data<float>() : nullptr,
                                                      gt ? dt.data<float>() : nullptr, n, c, inner, stream()));
      } else {
        dispatch_float(sx.dtype(), "dyrelu", [&](auto t) {
          using T = decltype(t);
          kernels::cpu::dyrelu_backward<T>(sx.data<T>(), st.data<T>(), (T)beta, g.data<T>(),
                                           gx ? dx.data<T>() : nullptr, gt ? dt.data<T>() : nullptr, n, c, inner);
        });
      }
      return std::vector<Tensor>{dx, dt};
    }), {&x, &theta});
  }
  return y;
}

}  // namespace sprout::ops
