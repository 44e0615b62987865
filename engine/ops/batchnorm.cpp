// batch_norm2d: checks, dispatch, and the backward node. The forward pass saves the
// mean and 1/std it normalised with, so backward never recomputes statistics.
#include "engine/ops/batchnorm.h"

#include "engine/autograd/node.h"
#include "engine/core/dispatch.h"
#include "kernels/cpu/batchnorm.h"

namespace sprout::ops {

namespace {

template <class T>
const T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T>
T* mut_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

void check_channel_vector(const Tensor& x, const Tensor& t, const char* what) {
  if (!t.defined()) return;
  check_same(x, t, "batch_norm2d");
  SPROUT_CHECK(t.numel() == x.size(1), "batch_norm2d: ", what, " ", shape_str(t.shape()),
               " does not match the ", x.size(1), " channels of ", shape_str(x.shape()));
}

// The shapes and modes the kernels trust: a 4-d input, per-channel vectors, running
// statistics given as a pair, and more than one value per channel when training.
void check_batch_norm_inputs(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, bool training) {
  SPROUT_CHECK(x.defined() && x.dim() == 4, "batch_norm2d: input must be [N, C, H, W], got ",
               x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  check_channel_vector(x, gamma, "gamma");
  check_channel_vector(x, beta, "beta");
  check_channel_vector(x, running_mean, "running_mean");
  check_channel_vector(x, running_var, "running_var");
  SPROUT_CHECK(running_mean.defined() == running_var.defined(),
               "batch_norm2d: running_mean and running_var must be given together");
  SPROUT_CHECK(training || running_mean.defined(),
               "batch_norm2d: evaluation mode needs running statistics");
  int64_t N = x.size(0), HW = x.size(2) * x.size(3);
  SPROUT_CHECK(!training || N * HW > 1, "batch_norm2d: training needs more than one value per "
               "channel, got input ", shape_str(x.shape()));
  if (x.is_cuda()) check_cuda_f32(x, "batch_norm2d");
}

// Fills y and the saved statistics; training also updates the running statistics in place.
void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps,
                        const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd) {
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(
      if (training)
        kernels::cuda::bn_forward_train(x.data<float>(), ptr_or_null<float>(gamma), ptr_or_null<float>(beta),
                                        N, C, HW, (float)eps, (float)momentum, mut_or_null<float>(running_mean),
                                        mut_or_null<float>(running_var), y.data<float>(),
                                        save_mean.data<float>(), save_invstd.data<float>(), stream());
      else
        kernels::cuda::bn_forward_eval(x.data<float>(), ptr_or_null<float>(gamma), ptr_or_null<float>(beta),
                                       running_mean.data<float>(), running_var.data<float>(), N, C, HW,
                                       (float)eps, y.data<float>(), save_mean.data<float>(),
                                       save_invstd.data<float>(), stream()));
  } else {
    dispatch_float(x.dtype(), "batch_norm2d", [&](auto t) {
      using T = decltype(t);
      if (training)
        kernels::cpu::bn_forward_train<T>(x.data<T>(), ptr_or_null<T>(gamma), ptr_or_null<T>(beta), N, C, HW,
                                          (T)eps, (T)momentum, mut_or_null<T>(running_mean),
                                          mut_or_null<T>(running_var), y.data<T>(), save_mean.data<T>(),
                                          save_invstd.data<T>());
      else
        kernels::cpu::bn_forward_eval<T>(x.data<T>(), ptr_or_null<T>(gamma), ptr_or_null<T>(beta),
                                         running_mean.data<T>(), running_var.data<T>(), N, C, HW, (T)eps,
                                         y.data<T>(), save_mean.data<T>(), save_invstd.data<T>());
    });
  }
}

// The backward node holds the saved statistics, so backward never recomputes them.
void record_batch_norm_backward(Tensor& y, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const Tensor& save_mean, const Tensor& save_invstd, bool training) {
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  Tensor sx = x.detach(), sg = gamma.defined() ? gamma.detach() : Tensor();
  bool gx = x.requires_grad();
  bool gg = gamma.defined() && gamma.requires_grad();
  bool gb = beta.defined() && beta.requires_grad();
  autograd::record(y, std::make_shared<autograd::FunctionNode>("batch_norm2d",
      [sx, sg, save_mean, save_invstd, training, gx, gg, gb, N, C, HW](const Tensor& dy) {
    Tensor dx, dgamma, dbeta;
    if (gx) dx = Tensor::empty(sx.shape(), sx.dtype(), sx.device());
    if (gg) dgamma = Tensor::empty({C}, sx.dtype(), sx.device());
    if (gb) dbeta = Tensor::empty({C}, sx.dtype(), sx.device());
    if (sx.is_cuda()) {
      SPROUT_ON_CUDA(kernels::cuda::bn_backward(sx.data<float>(), dy.data<float>(), save_mean.data<float>(),
                                                save_invstd.data<float>(), ptr_or_null<float>(sg), N, C, HW,
                                                training, mut_or_null<float>(dx), mut_or_null<float>(dgamma),
                                                mut_or_null<float>(dbeta), stream()));
    } else {
      dispatch_float(sx.dtype(), "batch_norm2d backward", [&](auto t) {
        using T = decltype(t);
        kernels::cpu::bn_backward<T>(sx.data<T>(), dy.data<T>(), save_mean.data<T>(), save_invstd.data<T>(),
                                     ptr_or_null<T>(sg), N, C, HW, training, mut_or_null<T>(dx),
                                     mut_or_null<T>(dgamma), mut_or_null<T>(dbeta));
      });
    }
    return std::vector<Tensor>{dx, dgamma, dbeta};
  }), {&x, &gamma, &beta});
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    Tensor running_mean, Tensor running_var, bool training, double momentum,
                    double eps) {
  check_batch_norm_inputs(x, gamma, beta, running_mean, running_var, training);
  int64_t C = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty({C}, x.dtype(), x.device());
  batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps, y, save_mean,
                     save_invstd);
  if (autograd::needs_grad({&x, &gamma, &beta}))
    record_batch_norm_backward(y, x, gamma, beta, save_mean, save_invstd, training);
  return y;
}

}  // namespace sprout::ops
