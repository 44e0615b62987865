// Helpers shared by the op tests: run an op's forward and backward on one device with
// a fixed output weighting, and read tensors back as doubles.
#pragma once
#include <functional>
#include <vector>

#include "testing.h"

namespace sprout::testing {

struct OpResult {
  Tensor out;                 // on the CPU
  std::vector<Tensor> grads;  // on the CPU, one per input (undefined where none)
};

// Copies `inputs` to `dev`, runs f, backpropagates a fixed random weighting of the
// output (seeded, so every device sees the same one) and brings everything back.
inline OpResult run_op(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                       const std::vector<Tensor>& inputs, Device dev, uint64_t seed = 7) {
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor d = t.to(dev);
    d.set_requires_grad(is_floating(t.dtype()));
    xs.push_back(d);
  }
  Tensor out = f(xs);
  Tensor w = randn(out.shape(), seed, out.dtype(), dev);
  out.backward(w);
  OpResult r{out.to(Device::cpu()), {}};
  for (const Tensor& x : xs) r.grads.push_back(x.grad().defined() ? x.grad().to(Device::cpu()) : Tensor());
  return r;
}

inline std::vector<double> as_doubles(const Tensor& t) {
  Tensor c = t.is_cuda() ? t.to(Device::cpu()) : t;
  std::vector<double> v((size_t)c.numel());
  for (int64_t i = 0; i < c.numel(); ++i) v[(size_t)i] = as_double(c, i);
  return v;
}

}  // namespace sprout::testing
