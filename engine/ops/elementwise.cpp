// Elementwise ops: argument checks, CPU/CUDA dispatch, backward nodes.
#include "engine/ops/elementwise.h"

#include "engine/autograd/node.h"
#include "engine/core/dispatch.h"
#include "kernels/cpu/elementwise.h"

namespace sprout::ops {

using autograd::FunctionNode;
namespace kc = kernels::cpu;

static void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  check_same(a, b, op);
  SPROUT_CHECK(a.numel() == b.numel(), op, ": shapes ", shape_str(a.shape()), " and ",
               shape_str(b.shape()));
}

static Tensor add_raw(const Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "add");
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.is_cuda()) {
    check_cuda_f32(a, "add");
    SPROUT_ON_CUDA(kernels::cuda::add(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), stream()));
  } else {
    dispatch_float(a.dtype(), "add", [&](auto t) {
      using T = decltype(t);
      kc::add<T>(a.data<T>(), b.data<T>(), out.data<T>(), a.numel());
    });
  }
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = add_raw(a, b);
  if (autograd::needs_grad({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    autograd::record(out, std::make_shared<FunctionNode>("add", [sa, sb](const Tensor& g) {
      return std::vector<Tensor>{g.view(sa), g.view(sb)};
    }), {&a, &b});
  }
  return out;
}

static Tensor mul_raw(const Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "mul");
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.is_cuda()) {
    check_cuda_f32(a, "mul");
    SPROUT_ON_CUDA(kernels::cuda::mul(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), stream()));
  } else {
    dispatch_float(a.dtype(), "mul", [&](auto t) {
      using T = decltype(t);
      kc::mul<T>(a.data<T>(), b.data<T>(), out.data<T>(), a.numel());
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = mul_raw(a, b);
  if (autograd::needs_grad({&a, &b})) {
    Tensor sa = a.detach(), sb = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(out, std::make_shared<FunctionNode>("mul", [sa, sb, ga, gb](const Tensor& g) {
      return std::vector<Tensor>{ga ? mul_raw(g.view(sb.shape()), sb) : Tensor(),
                                 gb ? mul_raw(g.view(sa.shape()), sa) : Tensor()};
    }), {&a, &b});
  }
  return out;
}

static Tensor scale_raw(const Tensor& a, double s) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.is_cuda()) {
    check_cuda_f32(a, "scale");
    SPROUT_ON_CUDA(kernels::cuda::scale(a.data<float>(), (float)s, out.data<float>(), a.numel(), stream()));
  } else {
    dispatch_float(a.dtype(), "scale", [&](auto t) {
      using T = decltype(t);
      kc::scale<T>(a.data<T>(), (T)s, out.data<T>(), a.numel());
    });
  }
  return out;
}

Tensor scale(const Tensor& a, double s) {
  Tensor out = scale_raw(a, s);
  if (autograd::needs_grad({&a})) {
    Shape sa = a.shape();
    autograd::record(out, std::make_shared<FunctionNode>("scale", [sa, s](const Tensor& g) {
      return std::vector<Tensor>{scale_raw(g, s).view(sa)};
    }), {&a});
  }
  return out;
}

static void bias_dims(const Tensor& x, int64_t* outer, int64_t* c, int64_t* inner) {
  *outer = x.size(0);
  *c = x.size(1);
  *inner = x.numel() / (*outer * *c > 0 ? *outer * *c : 1);
}

static Tensor bias_grad_raw(const Tensor& g, const Shape& xshape, const Shape& bshape) {
  Tensor gx = g.view(xshape);
  int64_t outer, c, inner;
  bias_dims(gx, &outer, &c, &inner);
  Tensor db = Tensor::empty(bshape, g.dtype(), g.device());
  if (g.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::bias_grad(gx.data<float>(), db.data<float>(), outer, c, inner, stream()));
  } else {
    dispatch_float(g.dtype(), "add_bias", [&](auto t) {
      using T = decltype(t);
      kc::bias_grad<T>(gx.data<T>(), db.data<T>(), outer, c, inner);
    });
  }
  return db;
}

Tensor add_bias(const Tensor& x, const Tensor& bias) {
  check_same(x, bias, "add_bias");
  SPROUT_CHECK(x.dim() >= 2 && bias.numel() == x.size(1), "add_bias: bias ",
               shape_str(bias.shape()), " does not match dim 1 of ", shape_str(x.shape()));
  int64_t outer, c, inner;
  bias_dims(x, &outer, &c, &inner);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    check_cuda_f32(x, "add_bias");
    SPROUT_ON_CUDA(kernels::cuda::add_bias(x.data<float>(), bias.data<float>(), out.data<float>(), outer, c, inner, stream()));
  } else {
    dispatch_float(x.dtype(), "add_bias", [&](auto t) {
      using T = decltype(t);
      kc::add_bias<T>(x.data<T>(), bias.data<T>(), out.data<T>(), outer, c, inner);
    });
  }
  if (autograd::needs_grad({&x, &bias})) {
    Shape xs = x.shape(), bs = bias.shape();
    bool gb = bias.requires_grad();
    autograd::record(out, std::make_shared<FunctionNode>("add_bias", [xs, bs, gb](const Tensor& g) {
      return std::vector<Tensor>{g.view(xs), gb ? bias_grad_raw(g, xs, bs) : Tensor()};
    }), {&x, &bias});
  }
  return out;
}

static Tensor relu_backward_raw(const Tensor& y, const Tensor& g) {
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  if (y.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::relu_backward(y.data<float>(), g.data<float>(), dx.data<float>(), y.numel(), stream()));
  } else {
    dispatch_float(y.dtype(), "relu", [&](auto t) {
      using T = decltype(t);
      kc::relu_backward<T>(y.data<T>(), g.data<T>(), dx.data<T>(), y.numel());
    });
  }
  return dx;
}

Tensor relu(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    check_cuda_f32(x, "relu");
    SPROUT_ON_CUDA(kernels::cuda::relu(x.data<float>(), out.data<float>(), x.numel(), stream()));
  } else {
    dispatch_float(x.dtype(), "relu", [&](auto t) {
      using T = decltype(t);
      kc::relu<T>(x.data<T>(), out.data<T>(), x.numel());
    });
  }
  if (autograd::needs_grad({&x})) {
    Tensor y = out.detach();
    autograd::record(out, std::make_shared<FunctionNode>("relu", [y](const Tensor& g) {
      return std::vector<Tensor>{relu_backward_raw(y, g)};
    }), {&x});
  }
  return out;
}

static Tensor sum_raw(const Tensor& x) {
  Tensor out = Tensor::empty({1}, x.dtype(), x.device());
  if (x.is_cuda()) {
    check_cuda_f32(x, "sum");
    SPROUT_ON_CUDA(kernels::cuda::sum(x.data<float>(), out.data<float>(), x.numel(), stream()));
  } else {
    dispatch_float(x.dtype(), "sum", [&](auto t) {
      using T = decltype(t);
      out.data<T>()[0] = (T)kc::sum<T>(x.data<T>(), x.numel());
    });
  }
  return out;
}

// d(sum)/dx is g broadcast to x's shape; g is a one-element tensor on x's device.
static Tensor broadcast_scalar(const Tensor& g, const Shape& shape, double factor) {
  Tensor out = Tensor::empty(shape, g.dtype(), g.device());
  if (g.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::fill_scaled(g.data<float>(), (float)factor, out.data<float>(), out.numel(), stream()));
    return out;
  }
  dispatch_float(g.dtype(), "sum", [&](auto t) {
    using T = decltype(t);
    T v = g.data<T>()[0] * (T)factor;
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = v;
  });
  return out;
}

Tensor sum(const Tensor& x) {
  Tensor out = sum_raw(x);
  if (autograd::needs_grad({&x})) {
    Shape s = x.shape();
    autograd::record(out, std::make_shared<FunctionNode>("sum", [s](const Tensor& g) {
      return std::vector<Tensor>{broadcast_scalar(g, s, 1.0)};
    }), {&x});
  }
  return out;
}

Tensor mean(const Tensor& x) {
  SPROUT_CHECK(x.numel() > 0, "mean of an empty tensor");
  return scale(sum(x), 1.0 / (double)x.numel());
}

void add_(Tensor& a, const Tensor& b) { axpy_(a, 1.0, b); }

void axpy_(Tensor& y, double alpha, const Tensor& x) {
  check_same_shape(y, x, "axpy_");
  if (y.is_cuda()) {
    check_cuda_f32(y, "axpy_");
    SPROUT_ON_CUDA(kernels::cuda::axpy((float)alpha, x.data<float>(), y.data<float>(), y.numel(), stream()));
  } else {
    dispatch_float(y.dtype(), "axpy_", [&](auto t) {
      using T = decltype(t);
      kc::axpy<T>((T)alpha, x.data<T>(), y.data<T>(), y.numel());
    });
  }
}

void fill_(Tensor& t, double v) {
  if (t.is_cuda()) {
    check_cuda_f32(t, "fill_");
    SPROUT_ON_CUDA(kernels::cuda::fill(t.data<float>(), (float)v, t.numel(), stream()));
  } else {
    dispatch_float(t.dtype(), "fill_", [&](auto tag) {
      using T = decltype(tag);
      T* p = t.data<T>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = (T)v;
    });
  }
}

}  // namespace sprout::ops
