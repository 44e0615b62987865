// Gate kernels. Activations are swept in parallel over (outer, channel) rows; the
// regularizers work on a few thousand logits and stay serial (and deterministic).
#include "kernels/cpu/gate.h"

#include <cmath>
#include <vector>

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;

inline double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
inline double sign_of(double v) { return (double)((v > 0) - (v < 0)); }
}  // namespace

template <class T>
void channel_mul(const T* x, const T* w, T* y, int64_t outer, int64_t channels, int64_t inner,
                 int64_t units) {
#pragma omp parallel for collapse(2) if (outer * channels * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const T s = w[units == 1 ? 0 : c];
      const T* xp = x + (o * channels + c) * inner;
      T* yp = y + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * s;
    }
}

template <class T>
void channel_mul_backward(const T* x, const T* dy, const T* w, T* dx, T* dw, int64_t outer,
                          int64_t channels, int64_t inner, int64_t units) {
  if (dx) channel_mul(dy, w, dx, outer, channels, inner, units);
  if (!dw) return;
  // Per-channel sums first (parallel over channels), then folded into the units.
  std::vector<double> per_channel((size_t)channels, 0.0);
#pragma omp parallel for if (outer * channels * inner > kParallelMin)
  for (int64_t c = 0; c < channels; ++c) {
    double s = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const T* xp = x + (o * channels + c) * inner;
      const T* gp = dy + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) s += (double)gp[i] * (double)xp[i];
    }
    per_channel[(size_t)c] = s;
  }
  if (units == 1) {
    double s = 0;
    for (double v : per_channel) s += v;
    dw[0] = (T)s;
  } else {
    for (int64_t c = 0; c < channels; ++c) dw[c] = (T)per_channel[(size_t)c];
  }
}

template <class T> void hard_gate(const T* z, T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) b[i] = z[i] > 0 ? T(1) : T(0);
}

template <class T> void gate_logit_grad(const T* z, const T* db, T* dz, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double q = sigmoid((double)z[i]);
    dz[i] = (T)((double)db[i] * q * (1.0 - q));
  }
}

template <class T> double polarization(const T* z, int64_t n, double t) {
  if (n == 0) return 0.0;
  double sum_q = 0;
  for (int64_t i = 0; i < n; ++i) sum_q += sigmoid((double)z[i]);
  double mean = sum_q / (double)n, spread = 0;
  for (int64_t i = 0; i < n; ++i) spread += std::fabs(sigmoid((double)z[i]) - mean);
  return t * sum_q - spread;  // q > 0, so sum|q| = sum q
}

template <class T> void polarization_backward(const T* z, int64_t n, double t, double g, T* dz) {
  if (n == 0) return;
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += sigmoid((double)z[i]);
  mean /= (double)n;
  // d/dq_i sum_j |q_j - m| = sign(q_i - m) - mean_j sign(q_j - m).
  double mean_sign = 0;
  for (int64_t i = 0; i < n; ++i) mean_sign += sign_of(sigmoid((double)z[i]) - mean);
  mean_sign /= (double)n;
  for (int64_t i = 0; i < n; ++i) {
    double q = sigmoid((double)z[i]);
    double dq = t - (sign_of(q - mean) - mean_sign);
    dz[i] = (T)(g * dq * q * (1.0 - q));
  }
}

template <class T> double density_penalty(const T* z, int64_t n, double d) {
  if (n == 0) return 0.0;
  double open = 0;
  for (int64_t i = 0; i < n; ++i) open += z[i] > 0 ? 1.0 : 0.0;
  double e = open / (double)n - d;
  return e * e;
}

template <class T> void density_penalty_backward(const T* z, int64_t n, double d, double g, T* dz) {
  if (n == 0) return;
  double open = 0;
  for (int64_t i = 0; i < n; ++i) open += z[i] > 0 ? 1.0 : 0.0;
  double db = g * 2.0 * (open / (double)n - d) / (double)n;
  for (int64_t i = 0; i < n; ++i) {
    double q = sigmoid((double)z[i]);
    dz[i] = (T)(db * q * (1.0 - q));
  }
}

#define SPROUT_GATE_INSTANTIATE(T)                                                                  \
  template void channel_mul<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, int64_t);         \
  template void channel_mul_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t,     \
                                        int64_t, int64_t);                                          \
  template void hard_gate<T>(const T*, T*, int64_t);                                                \
  template void gate_logit_grad<T>(const T*, const T*, T*, int64_t);                                \
  template double polarization<T>(const T*, int64_t, double);                                       \
  template void polarization_backward<T>(const T*, int64_t, double, double, T*);                    \
  template double density_penalty<T>(const T*, int64_t, double);                                   \
  template void density_penalty_backward<T>(const T*, int64_t, double, double, T*);
SPROUT_GATE_INSTANTIATE(float)
SPROUT_GATE_INSTANTIATE(double)
#undef SPROUT_GATE_INSTANTIATE

}  // namespace sprout::kernels::cpu
