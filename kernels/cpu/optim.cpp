// SGD and AdamW updates.
#include "kernels/cpu/optim.h"

#include <cmath>

namespace sprout::kernels::cpu {

template <class T>
void sgd_update(T* w, const T* g, T* buf, int64_t n, T lr, T momentum, T wd, bool nesterov) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i] + wd * w[i];
    if (buf) {
      T b = momentum * buf[i] + d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    w[i] -= lr * d;
  }
}

template <class T>
void adamw_update(T* w, const T* g, T* m, T* v, int64_t n, T lr, T b1, T b2, T eps, T wd, T bc1,
                  T bc2) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    w[i] -= lr * wd * w[i];
    m[i] = b1 * m[i] + (T(1) - b1) * g[i];
    v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
    w[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
  }
}

template void sgd_update<float>(float*, const float*, float*, int64_t, float, float, float, bool);
template void sgd_update<double>(double*, const double*, double*, int64_t, double, double, double, bool);
template void adamw_update<float>(float*, const float*, float*, float*, int64_t, float, float, float,
                                  float, float, float, float);
template void adamw_update<double>(double*, const double*, double*, double*, int64_t, double, double,
                                   double, double, double, double, double);

}  // namespace sprout::kernels::cpu
