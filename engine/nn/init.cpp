// Initialisers. They fill on the CPU and copy to the tensor's device.
#include "engine/nn/init.h"

namespace sprout::nn {

Rng& init_rng() {
  static Rng r(0);
  return r;
}

template <class F>
static void fill_with(Tensor& t, F&& draw) {
  Tensor h = t.is_cuda() ? Tensor::empty(t.shape(), t.dtype(), Device::cpu()) : t;
  for (int64_t i = 0; i < h.numel(); ++i) {
    double v = draw();
    if (h.dtype() == DType::F64) h.data<double>()[i] = v;
    else h.data<float>()[i] = (float)v;
  }
  if (t.is_cuda()) t.copy_from(h);
}

void uniform_(Tensor& t, double lo, double hi, Rng& rng) { fill_with(t, [&] { return rng.uniform(lo, hi); }); }
void normal_(Tensor& t, double mean, double std, Rng& rng) { fill_with(t, [&] { return mean + std * rng.normal(); }); }

}  // namespace sprout::nn
