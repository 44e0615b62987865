// Softmax cross-entropy: forward saves the probabilities; backward is
// (p - target) * g / N, computed without leaving the device.
#include "engine/ops/loss.h"

#include "engine/autograd/node.h"
#include "engine/ops/deferred.h"
#include "engine/core/dispatch.h"
#include "engine/ops/elementwise.h"
#include "kernels/cpu/loss.h"

namespace sprout::ops {

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double eps) {
  SPROUT_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got ",
               shape_str(logits.shape()));
  SPROUT_CHECK(labels.dtype() == DType::I32 && labels.numel() == logits.size(0),
               "cross_entropy: labels must be int32 [", logits.size(0), "], got ",
               dtype_name(labels.dtype()), " ", shape_str(labels.shape()));
  SPROUT_CHECK(labels.device() == logits.device(), "cross_entropy: labels on ",
               labels.device().str(), ", logits on ", logits.device().str());
  SPROUT_CHECK(eps >= 0 && eps < 1, "cross_entropy: label_smoothing ", eps, " not in [0, 1)");
  int64_t n = logits.size(0), c = logits.size(1);
  Tensor probs = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  Tensor rows = Tensor::empty({n}, logits.dtype(), logits.device());
  if (logits.is_cuda()) {
    check_cuda_f32(logits, "cross_entropy");
    SPROUT_ON_CUDA({
      Tensor verdict = make_verdict(logits.device());
      kernels::cuda::softmax_xent_forward(logits.data<float>(), labels.data<int32_t>(), n, c, (float)eps,
                                          probs.data<float>(), rows.data<float>(),
                                          reinterpret_cast<unsigned long long*>(verdict.data<int64_t>()), stream());
      defer_check(verdict, "cross_entropy: a label outside [0, " + std::to_string(c) + ") at row");
    });
  } else {
    const int32_t* lab = labels.data<int32_t>();
    for (int64_t i = 0; i < n; ++i)
      SPROUT_CHECK(lab[i] >= 0 && lab[i] < c, "cross_entropy: label ", lab[i], " at row ", i,
                   " outside [0, ", c, ")");
    dispatch_float(logits.dtype(), "cross_entropy", [&](auto t) {
      using T = decltype(t);
      kernels::cpu::softmax_xent_forward<T>(logits.data<T>(), lab, n, c, (T)eps,
                                            probs.data<T>(), rows.data<T>());
    });
  }
  Tensor loss;
  {
    autograd::NoGradGuard ng;
    loss = scale(sum(rows), 1.0 / (double)(n > 0 ? n : 1));
  }
  if (autograd::needs_grad({&logits})) {
    Tensor lab = labels;
    autograd::record(loss, std::make_shared<autograd::FunctionNode>("cross_entropy",
        [probs, lab, n, c, eps](const Tensor& g) {
      Tensor dx = Tensor::empty(probs.shape(), probs.dtype(), probs.device());
      if (probs.is_cuda()) {
        SPROUT_ON_CUDA(kernels::cuda::softmax_xent_backward(probs.data<float>(), lab.data<int32_t>(), n, c,
                                                            (float)eps, g.data<float>(), dx.data<float>(), stream()));
      } else {
        dispatch_float(probs.dtype(), "cross_entropy", [&](auto t) {
          using T = decltype(t);
          T sc = g.data<T>()[0] / (T)(n > 0 ? n : 1);
          kernels::cpu::softmax_xent_backward<T>(probs.data<T>(), lab.data<int32_t>(), n, c,
                                                 (T)eps, sc, dx.data<T>());
        });
      }
      return std::vector<Tensor>{dx};
    }), {&logits});
  }
  return loss;
}

int64_t count_correct(const Tensor& logits, const Tensor& labels, int k) {
  SPROUT_CHECK(logits.dim() == 2 && labels.numel() == logits.size(0), "count_correct: logits ",
               shape_str(logits.shape()), " labels ", shape_str(labels.shape()));
  SPROUT_CHECK(labels.dtype() == DType::I32, "count_correct: labels must be int32, got ", dtype_name(labels.dtype()));
  SPROUT_CHECK(labels.device() == logits.device(), "count_correct: labels on ", labels.device().str(), ", logits on ",
               logits.device().str());
  int64_t n = logits.size(0), c = logits.size(1);
  if (logits.is_cuda()) {
    Tensor counter = Tensor::zeros({1}, DType::I64, logits.device(), MemCategory::Workspace);
    SPROUT_ON_CUDA(kernels::cuda::count_correct(logits.data<float>(), labels.data<int32_t>(), n, c, k,
                                                counter.data<int64_t>(), stream()));
    return (int64_t)counter.item();
  }
  int64_t out = 0;
  dispatch_float(logits.dtype(), "count_correct", [&](auto t) {
    using T = decltype(t);
    out = kernels::cpu::count_correct<T>(logits.data<T>(), labels.data<int32_t>(), n, c, k);
  });
  return out;
}

}  // namespace sprout::ops
