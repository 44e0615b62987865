// Gate ops: argument checks, CPU/CUDA dispatch, and the straight-through backward
// nodes. The regularizers concatenate the logits of every gated layer into one
// workspace vector so mean(q) and mean(b) run over the whole population.
#include "engine/ops/gate.h"

#include "engine/autograd/node.h"
#include "engine/core/dispatch.h"
#include "kernels/cpu/gate.h"

namespace sprout::ops {

using autograd::FunctionNode;
namespace kc = kernels::cpu;

namespace {

struct Dims {
  int64_t outer = 0, channels = 0, inner = 0, units = 0;
};

Dims unit_dims(const Tensor& x, const Tensor& w, const char* op) {
  check_same(x, w, op);
  SPROUT_CHECK(x.dim() >= 2, op, ": input must be [N, C, ...], got ", shape_str(x.shape()));
  SPROUT_CHECK(w.dim() == 1 && (w.numel() == x.size(1) || w.numel() == 1), op, ": ",
               shape_str(w.shape()), " does not match the ", x.size(1), " channels of ", shape_str(x.shape()));
  Dims d;
  d.outer = x.size(0);
  d.channels = x.size(1);
  d.inner = d.outer * d.channels > 0 ? x.numel() / (d.outer * d.channels) : 0;
  d.units = w.numel();
  return d;
}

Tensor channel_mul_raw(const Tensor& x, const Tensor& w, const Dims& d) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    check_cuda_f32(x, "gate");
    SPROUT_ON_CUDA(kernels::cuda::channel_mul(x.data<float>(), w.data<float>(), y.data<float>(), d.outer,
                                              d.channels, d.inner, d.units, stream()));
  } else {
    dispatch_float(x.dtype(), "gate", [&](auto t) {
      using T = decltype(t);
      kc::channel_mul<T>(x.data<T>(), w.data<T>(), y.data<T>(), d.outer, d.channels, d.inner, d.units);
    });
  }
  return y;
}

// dx = g * w and dw = per-unit sums of g * x; either may be skipped.
void channel_mul_backward_raw(const Tensor& x, const Tensor& g, const Tensor& w, const Dims& d,
                              Tensor* dx, Tensor* dw) {
  if (dx) *dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (dw) *dw = Tensor::empty(w.shape(), w.dtype(), w.device());
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::channel_mul_backward(x.data<float>(), g.data<float>(), w.data<float>(),
                                                       dx ? dx->data<float>() : nullptr,
                                                       dw ? dw->data<float>() : nullptr, d.outer,
                                                       d.channels, d.inner, d.units, stream()));
  } else {
    dispatch_float(x.dtype(), "gate", [&](auto t) {
      using T = decltype(t);
      kc::channel_mul_backward<T>(x.data<T>(), g.data<T>(), w.data<T>(), dx ? dx->data<T>() : nullptr,
                                  dw ? dw->data<T>() : nullptr, d.outer, d.channels, d.inner, d.units);
    });
  }
}

Tensor hard_gate_raw(const Tensor& z) {
  Tensor b = Tensor::empty(z.shape(), z.dtype(), z.device());
  if (z.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::hard_gate(z.data<float>(), b.data<float>(), z.numel(), stream()));
  } else {
    dispatch_float(z.dtype(), "gate", [&](auto t) {
      using T = decltype(t);
      kc::hard_gate<T>(z.data<T>(), b.data<T>(), z.numel());
    });
  }
  return b;
}

Tensor logit_grad_raw(const Tensor& z, const Tensor& db) {
  Tensor dz = Tensor::empty(z.shape(), z.dtype(), z.device());
  if (z.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::gate_logit_grad(z.data<float>(), db.data<float>(), dz.data<float>(),
                                                  z.numel(), stream()));
  } else {
    dispatch_float(z.dtype(), "gate", [&](auto t) {
      using T = decltype(t);
      kc::gate_logit_grad<T>(z.data<T>(), db.data<T>(), dz.data<T>(), z.numel());
    });
  }
  return dz;
}

// A 1-D view of n elements of t starting at element `offset` (shares storage).
Tensor slice_1d(const Tensor& t, int64_t offset, int64_t n) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->byte_offset = t.impl()->byte_offset + (size_t)offset * dtype_size(t.dtype());
  impl->shape = {n};
  impl->dtype = t.dtype();
  return Tensor(impl);
}

// Every logit in one workspace vector (copies; the logits are a few thousand values).
Tensor concat_logits(const std::vector<Tensor>& logits, const char* op) {
  SPROUT_CHECK(!logits.empty(), op, ": no gate logits");
  int64_t n = 0;
  for (const Tensor& z : logits) {
    check_same(logits[0], z, op);
    n += z.numel();
  }
  Tensor all = Tensor::empty({n}, logits[0].dtype(), logits[0].device());
  int64_t off = 0;
  for (const Tensor& z : logits) {
    if (z.numel()) slice_1d(all, off, z.numel()).copy_from(z);
    off += z.numel();
  }
  return all;
}

enum class Regularizer { Polarization, Density };

// The scalar value of a regularizer on the concatenated logits z (device scalar).
Tensor regularizer_value(Regularizer r, const Tensor& z, double param) {
  Tensor out = Tensor::empty({1}, z.dtype(), z.device());
  if (z.is_cuda()) {
    check_cuda_f32(z, "gate regularizer");
    if (r == Regularizer::Polarization) {
      SPROUT_ON_CUDA(kernels::cuda::polarization(z.data<float>(), z.numel(), (float)param, out.data<float>(),
                                                 stream()));
    } else {
      SPROUT_ON_CUDA(kernels::cuda::density_penalty(z.data<float>(), z.numel(), (float)param, out.data<float>(),
                                                    stream()));
    }
  } else {
    dispatch_float(z.dtype(), "gate regularizer", [&](auto t) {
      using T = decltype(t);
      out.data<T>()[0] = (T)(r == Regularizer::Polarization ? kc::polarization<T>(z.data<T>(), z.numel(), param)
                                                            : kc::density_penalty<T>(z.data<T>(), z.numel(), param));
    });
  }
  return out;
}

Tensor regularizer_grad(Regularizer r, const Tensor& z, double param, const Tensor& g) {
  Tensor dz = Tensor::empty(z.shape(), z.dtype(), z.device());
  if (z.is_cuda()) {
    if (r == Regularizer::Polarization) {
      SPROUT_ON_CUDA(kernels::cuda::polarization_backward(z.data<float>(), z.numel(), (float)param,
                                                          g.data<float>(), dz.data<float>(), stream()));
    } else {
      SPROUT_ON_CUDA(kernels::cuda::density_penalty_backward(z.data<float>(), z.numel(), (float)param,
                                                             g.data<float>(), dz.data<float>(), stream()));
    }
  } else {
    dispatch_float(z.dtype(), "gate regularizer", [&](auto t) {
      using T = decltype(t);
      double gv = (double)g.data<T>()[0];
      if (r == Regularizer::Polarization) kc::polarization_backward<T>(z.data<T>(), z.numel(), param, gv, dz.data<T>());
      else kc::density_penalty_backward<T>(z.data<T>(), z.numel(), param, gv, dz.data<T>());
    });
  }
  return dz;
}

Tensor regularizer(Regularizer r, const std::vector<Tensor>& logits, double param, const char* op) {
  Tensor z = concat_logits(logits, op);
  Tensor out = regularizer_value(r, z, param);
  std::vector<const Tensor*> inputs;
  bool any = false;
  for (const Tensor& t : logits) {
    inputs.push_back(&t);
    any = any || t.requires_grad();
  }
  if (any && autograd::grad_enabled()) {
    std::vector<int64_t> sizes;
    for (const Tensor& t : logits) sizes.push_back(t.numel());
    std::vector<Shape> shapes;
    for (const Tensor& t : logits) shapes.push_back(t.shape());
    autograd::record(out, std::make_shared<FunctionNode>(op, [r, z, param, sizes, shapes](const Tensor& g) {
      Tensor dz = regularizer_grad(r, z, param, g);
      std::vector<Tensor> grads;
      int64_t off = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        grads.push_back(slice_1d(dz, off, sizes[i]).view(shapes[i]));
        off += sizes[i];
      }
      return grads;
    }), inputs);
  }
  return out;
}

}  // namespace

Tensor gate(const Tensor& x, const Tensor& logits) {
  Dims d = unit_dims(x, logits, "gate");
  Tensor b = hard_gate_raw(logits);
  Tensor y = channel_mul_raw(x, b, d);
  if (autograd::needs_grad({&x, &logits})) {
    Tensor sx = x.detach(), sz = logits.detach();
    bool gx = x.requires_grad(), gz = logits.requires_grad();
    autograd::record(y, std::make_shared<FunctionNode>("gate", [sx, sz, b, d, gx, gz](const Tensor& g) {
      Tensor dx, db;
      Tensor gv = g.view(sx.shape());
      channel_mul_backward_raw(sx, gv, b, d, gx ? &dx : nullptr, gz ? &db : nullptr);
      return std::vector<Tensor>{dx, gz ? logit_grad_raw(sz, db) : Tensor()};
    }), {&x, &logits});
  }
  return y;
}

Tensor channel_scale(const Tensor& x, const Tensor& scale) {
  Dims d = unit_dims(x, scale, "channel_scale");
  Tensor y = channel_mul_raw(x, scale, d);
  if (autograd::needs_grad({&x, &scale})) {
    Tensor sx = x.detach(), ss = scale.detach();
    bool gx = x.requires_grad(), gs = scale.requires_grad();
    autograd::record(y, std::make_shared<FunctionNode>("channel_scale", [sx, ss, d, gx, gs](const Tensor& g) {
      Tensor dx, ds;
      channel_mul_backward_raw(sx, g.view(sx.shape()), ss, d, gx ? &dx : nullptr, gs ? &ds : nullptr);
      return std::vector<Tensor>{dx, ds};
    }), {&x, &scale});
  }
  return y;
}

Tensor polarization(const std::vector<Tensor>& logits, double t) {
  return regularizer(Regularizer::Polarization, logits, t, "polarization");
}

Tensor gate_density_penalty(const std::vector<Tensor>& logits, double d_target) {
  return regularizer(Regularizer::Density, logits, d_target, "gate_density_penalty");
}

int64_t count_open_gates(const Tensor& logits) {
  Tensor h = logits.is_cuda() ? logits.to(Device::cpu(), MemCategory::Workspace) : logits;
  int64_t open = 0;
  dispatch_float(h.dtype(), "count_open_gates", [&](auto t) {
    using T = decltype(t);
    const T* p = h.data<T>();
    for (int64_t i = 0; i < h.numel(); ++i) open += p[i] > 0;
  });
  return open;
}

}  // namespace sprout::ops
