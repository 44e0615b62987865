// Pooling ops: checks, dispatch, backward nodes. Max pooling keeps its int32 argmax
// indices (one per output element) as the only saved state, or nothing when its input
// can be rebuilt (autograd/saved.h).
#include "engine/ops/pool.h"

#include <utility>

#include "engine/autograd/saved.h"
#include "engine/core/dispatch.h"
#include "kernels/cpu/pool.h"

namespace sprout::ops {

namespace kc = kernels::cpu;

namespace {

struct Window {
  int64_t N, C, H, W, k, stride, pad, Hout, Wout;
  int64_t planes() const { return N * C; }
};

Window check_window(const Tensor& x, int64_t k, int64_t stride, int64_t pad, const char* op) {
  SPROUT_CHECK(x.defined() && x.dim() == 4, op, ": input must be [N, C, H, W], got ",
               x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  if (stride == 0) stride = k;
  SPROUT_CHECK(k >= 1 && stride >= 1 && pad >= 0 && pad <= k / 2, op, ": kernel ", k,
               " stride ", stride, " padding ", pad, " (padding must be at most kernel / 2)");
  Window w{x.size(0), x.size(1), x.size(2), x.size(3), k, stride, pad, 0, 0};
  SPROUT_CHECK(w.H + 2 * pad >= k && w.W + 2 * pad >= k, op, ": kernel ", k,
               " larger than the padded input ", shape_str(x.shape()), " (padding ", pad, ")");
  w.Hout = kc::conv_out_size(w.H, k, stride, pad);
  w.Wout = kc::conv_out_size(w.W, k, stride, pad);
  if (x.is_cuda()) check_cuda_f32(x, op);
  return w;
}

// y and its argmax from x.
void max_pool_forward(const Window& w, const Tensor& x, const Tensor& y, const Tensor& argmax) {
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::max_pool2d_forward(x.data<float>(), w.planes(), w.H, w.W, w.k, w.stride,
                                                     w.pad, y.data<float>(), argmax.data<int32_t>(), stream()));
  } else {
    dispatch_float(x.dtype(), "max_pool2d", [&](auto t) {
      using T = decltype(t);
      kc::max_pool2d_forward<T>(x.data<T>(), w.planes(), w.H, w.W, w.k, w.stride, w.pad, y.data<T>(),
                                argmax.data<int32_t>());
    });
  }
}

// Keeps the argmax; or, when its input can be rebuilt (a fused BatchNorm + ReLU's output),
// only that input's producer: backward then pools the rebuilt input again for the argmax,
// and the output can be rebuilt too, so the pool keeps nothing of its own.
struct MaxPoolNode : autograd::Node {
  Window w;
  DType dt = DType::F32;
  Tensor argmax;
  autograd::SavedTensor input;

  const char* name() const override { return "max_pool2d"; }
  bool can_rebuild() const override { return input.defined(); }
  Tensor rebuild() const override { return pool_again().first; }
  void release() override {
    argmax = Tensor();
    input = autograd::SavedTensor();
  }
  std::vector<Tensor> apply(const Tensor& dy) override {
    const Tensor am = argmax.defined() ? argmax : pool_again().second;
    Tensor dx = Tensor::empty({w.N, w.C, w.H, w.W}, dt, dy.device());
    if (dy.is_cuda()) {
      SPROUT_ON_CUDA(kernels::cuda::max_pool2d_backward(dy.data<float>(), am.data<int32_t>(), w.planes(), w.H, w.W,
                                                        w.k, w.stride, w.pad, dx.data<float>(), stream()));
    } else {
      dispatch_float(dt, "max_pool2d backward", [&](auto t) {
        using T = decltype(t);
        kc::max_pool2d_backward<T>(dy.data<T>(), am.data<int32_t>(), w.planes(), w.H, w.W, w.Hout, w.Wout,
                                   dx.data<T>());
      });
    }
    return {dx};
  }

 private:
  std::pair<Tensor, Tensor> pool_again() const {
    const Tensor x = input.get();
    Tensor y = Tensor::empty({w.N, w.C, w.Hout, w.Wout}, x.dtype(), x.device());
    Tensor am = Tensor::empty(y.shape(), DType::I32, x.device());
    max_pool_forward(w, x, y, am);
    return {y, am};
  }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride, int64_t pad) {
  Window w = check_window(x, k, stride, pad, "max_pool2d");
  Tensor y = Tensor::empty({w.N, w.C, w.Hout, w.Wout}, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(y.shape(), DType::I32, x.device());
  max_pool_forward(w, x, y, argmax);
  if (autograd::needs_grad({&x})) {
    auto node = std::make_shared<MaxPoolNode>();
    node->w = w;
    node->dt = x.dtype();
    autograd::SavedTensor in(x);
    if (in.rebuilt()) node->input = in;
    else node->argmax = argmax;
    autograd::record(y, node, {&x});
  }
  return y;
}

namespace {

void avg_pool_forward(const Window& w, const Tensor& x, const Tensor& y) {
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::avg_pool2d_forward(x.data<float>(), w.planes(), w.H, w.W, w.k, w.stride,
                                                     w.pad, y.data<float>(), stream()));
  } else {
    dispatch_float(x.dtype(), "avg_pool2d", [&](auto t) {
      using T = decltype(t);
      kc::avg_pool2d_forward<T>(x.data<T>(), w.planes(), w.H, w.W, w.k, w.stride, w.pad, y.data<T>());
    });
  }
}

// Keeps nothing for its own backward. When its input can be rebuilt it also holds that
// input's producer, so its output can be rebuilt too: a strided 1x1 sparse conv
// subsamples this way and then keeps nothing of its own.
struct AvgPoolNode : autograd::Node {
  Window w;
  DType dt = DType::F32;
  autograd::SavedTensor input;  // only when it is rebuilt

  const char* name() const override { return "avg_pool2d"; }
  bool can_rebuild() const override { return input.defined(); }
  Tensor rebuild() const override {
    const Tensor x = input.get();
    Tensor y = Tensor::empty({w.N, w.C, w.Hout, w.Wout}, x.dtype(), x.device());
    avg_pool_forward(w, x, y);
    return y;
  }
  void release() override { input = autograd::SavedTensor(); }
  std::vector<Tensor> apply(const Tensor& dy) override {
    Tensor dx = Tensor::empty({w.N, w.C, w.H, w.W}, dt, dy.device());
    if (dy.is_cuda()) {
      SPROUT_ON_CUDA(kernels::cuda::avg_pool2d_backward(dy.data<float>(), w.planes(), w.H, w.W, w.k, w.stride,
                                                        w.pad, dx.data<float>(), stream()));
    } else {
      dispatch_float(dt, "avg_pool2d backward", [&](auto t) {
        using T = decltype(t);
        kc::avg_pool2d_backward<T>(dy.data<T>(), w.planes(), w.H, w.W, w.k, w.stride, w.pad, dx.data<T>());
      });
    }
    return {dx};
  }
};

}  // namespace

Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t stride, int64_t pad) {
  Window w = check_window(x, k, stride, pad, "avg_pool2d");
  Tensor y = Tensor::empty({w.N, w.C, w.Hout, w.Wout}, x.dtype(), x.device());
  avg_pool_forward(w, x, y);
  if (autograd::needs_grad({&x})) {
    auto node = std::make_shared<AvgPoolNode>();
    node->w = w;
    node->dt = x.dtype();
    autograd::SavedTensor in(x);
    if (in.rebuilt()) node->input = in;
    autograd::record(y, node, {&x});
  }
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  SPROUT_CHECK(x.defined() && x.dim() == 4, "global_avg_pool: input must be [N, C, H, W], got ",
               x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  SPROUT_CHECK(HW > 0, "global_avg_pool: empty planes in ", shape_str(x.shape()));
  if (x.is_cuda()) check_cuda_f32(x, "global_avg_pool");
  Tensor y = Tensor::empty({N, C}, x.dtype(), x.device());
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::global_avg_pool_forward(x.data<float>(), N * C, HW, y.data<float>(), stream()));
  } else {
    dispatch_float(x.dtype(), "global_avg_pool", [&](auto t) {
      using T = decltype(t);
      kc::global_avg_pool_forward<T>(x.data<T>(), N * C, HW, y.data<T>());
    });
  }
  if (autograd::needs_grad({&x})) {
    Shape xs = x.shape();
    autograd::record(y, std::make_shared<autograd::FunctionNode>("global_avg_pool", [xs, N, C, HW](const Tensor& dy) {
      Tensor dx = Tensor::empty(xs, dy.dtype(), dy.device());
      if (dy.is_cuda()) {
        SPROUT_ON_CUDA(kernels::cuda::global_avg_pool_backward(dy.data<float>(), N * C, HW, dx.data<float>(), stream()));
      } else {
        dispatch_float(dy.dtype(), "global_avg_pool backward", [&](auto t) {
          using T = decltype(t);
          kc::global_avg_pool_backward<T>(dy.data<T>(), N * C, HW, dx.data<T>());
        });
      }
      return std::vector<Tensor>{dx};
    }), {&x});
  }
  return y;
}

}  // namespace sprout::ops
