// Test helpers: devices to run over, closeness checks, and a finite-difference
// gradient check that compares autograd against central differences in float64.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/core/rng.h"
#include "engine/core/tensor.h"

namespace sprout::testing {

inline std::vector<Device> devices_under_test() { return {Device::cpu(), Device::cuda()}; }

inline std::string device_param_name(const ::testing::TestParamInfo<Device>& info) {
  return info.param.is_cpu() ? "cpu" : "cuda";
}

// Skips the current test with the reason when `d` is CUDA and no GPU answers.
#define SPROUT_SKIP_IF_NO_DEVICE(d)                                                   \
  do {                                                                                \
    if ((d).is_cuda() && !::sprout::cuda_available())                                 \
      GTEST_SKIP() << "no GPU: " << ::sprout::cuda_unavailable_reason();              \
  } while (0)

inline Tensor randn(const Shape& s, uint64_t seed, DType dt = DType::F64, Device dev = Device::cpu()) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s, dt, Device::cpu());
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = rng.normal();
    if (dt == DType::F64) t.data<double>()[i] = v;
    else t.data<float>()[i] = (float)v;
  }
  return dev.is_cpu() ? t : t.to(dev);
}

inline double as_double(const Tensor& t, int64_t i) {
  return t.dtype() == DType::F64 ? t.data<double>()[i] : (double)t.data<float>()[i];
}

// max |a - b| / max(1, max |b|): relative to the reference's scale.
inline double rel_error(const Tensor& a, const Tensor& b) {
  Tensor x = a.is_cuda() ? a.to(Device::cpu()) : a;
  Tensor y = b.is_cuda() ? b.to(Device::cpu()) : b;
  EXPECT_EQ(x.numel(), y.numel());
  double num = 0, den = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    num = std::max(num, std::fabs(as_double(x, i) - as_double(y, i)));
    den = std::max(den, std::fabs(as_double(y, i)));
  }
  return num / std::max(1e-300, std::max(den, 1e-12)) * (den > 0 ? 1 : 0) + (den > 0 ? 0 : num);
}

// Checks d(sum(f(inputs) * w))/d(input) against central differences for every input
// element, where w is a fixed random weighting (so every output entry matters).
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      std::vector<Tensor> inputs, double tol = 1e-6, double h = 1e-6) {
  for (auto& t : inputs) t.set_requires_grad(true);
  Tensor out = f(inputs);
  Tensor w = randn(out.shape(), 999, out.dtype());
  auto weighted = [&](const Tensor& o) {
    double s = 0;
    for (int64_t i = 0; i < o.numel(); ++i) s += as_double(o, i) * as_double(w, i);
    return s;
  };
  out.backward(w);
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    Tensor g = x.grad();
    ASSERT_TRUE(g.defined()) << "input " << k << " got no gradient";
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = x.data<double>() + i;
      double saved = *p;
      double fp, fm;
      {
        autograd::NoGradGuard ng;
        *p = saved + h; fp = weighted(f(inputs));
        *p = saved - h; fm = weighted(f(inputs));
      }
      *p = saved;
      double numeric = (fp - fm) / (2 * h);
      double analytic = g.data<double>()[i];
      EXPECT_NEAR(analytic, numeric, tol * std::max(1.0, std::fabs(numeric)))
          << "input " << k << " element " << i;
    }
  }
}

// A whole file's bytes ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace sprout::testing
