// Batch normalisation kernels. Channel statistics are sums over N*HW values, so the
// reductions run one channel per OpenMP iteration and accumulate in double (two
// passes: mean, then squared deviations, which stays accurate when |mean| >> std),
// each in kLanes independent partial sums so the adds pipeline and vectorize.
#include "kernels/cpu/batchnorm.h"

#include <cmath>

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
constexpr int kLanes = 8;

// Adds f(i) and g(i) for i < n to s and t, in double, in kLanes partial sums each.
template <class F, class G>
void lane_sums(int64_t n, F f, G g, double& s, double& t) {
  double as[kLanes] = {}, at[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      as[l] += f(i + l);
      at[l] += g(i + l);
    }
  for (; i < n; ++i) {
    as[0] += f(i);
    at[0] += g(i);
  }
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) {
      as[l] += as[l + w];
      at[l] += at[l + w];
    }
  s += as[0];
  t += at[0];
}

template <class F>
double lane_sum(int64_t n, F f) {
  double s = 0, unused = 0;
  lane_sums(n, f, [](int64_t) { return 0.0; }, s, unused);
  return s;
}
}  // namespace

template <class T>
void bn_forward_train(const T* x, const T* gamma, const T* beta, int64_t N, int64_t C,
                      int64_t HW, T eps, T momentum, T* running_mean, T* running_var, T* y,
                      T* save_mean, T* save_invstd) {
  int64_t count = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * HW;
      s += lane_sum(HW, [p](int64_t i) { return (double)p[i]; });
    }
    double mean = count ? s / (double)count : 0.0;
    double ss = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * HW;
      ss += lane_sum(HW, [p, mean](int64_t i) {
        const double d = (double)p[i] - mean;
        return d * d;
      });
    }
    double var = count ? ss / (double)count : 0.0;
    double invstd = 1.0 / std::sqrt(var + (double)eps);
    save_mean[c] = (T)mean;
    save_invstd[c] = (T)invstd;
    if (running_mean) running_mean[c] = (T)((1.0 - momentum) * running_mean[c] + momentum * mean);
    if (running_var) {
      double unbiased = count > 1 ? ss / (double)(count - 1) : var;
      running_var[c] = (T)((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
    T a = (T)invstd * (gamma ? gamma[c] : T(1));
    T b = (beta ? beta[c] : T(0)) - (T)mean * a;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * HW;
      T* q = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) q[i] = p[i] * a + b;
    }
  }
}

template <class T>
void bn_forward_eval(const T* x, const T* gamma, const T* beta, const T* running_mean,
                     const T* running_var, int64_t N, int64_t C, int64_t HW, T eps, T* y,
                     T* save_mean, T* save_invstd) {
  for (int64_t c = 0; c < C; ++c) {
    save_mean[c] = running_mean[c];
    save_invstd[c] = (T)(1.0 / std::sqrt((double)running_var[c] + (double)eps));
  }
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T a = save_invstd[c] * (gamma ? gamma[c] : T(1));
      T b = (beta ? beta[c] : T(0)) - save_mean[c] * a;
      const T* p = x + (n * C + c) * HW;
      T* q = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) q[i] = p[i] * a + b;
    }
}

template <class T>
void bn_backward(const T* x, const T* dy, const T* save_mean, const T* save_invstd,
                 const T* gamma, int64_t N, int64_t C, int64_t HW, bool training, T* dx,
                 T* dgamma, T* dbeta) {
  int64_t count = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    double mean = (double)save_mean[c], invstd = (double)save_invstd[c];
    // sum dy and sum dy * xhat, the two reductions every output needs.
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * HW;
      const T* g = dy + (n * C + c) * HW;
      lane_sums(HW, [g](int64_t i) { return (double)g[i]; },
                [g, p, mean](int64_t i) { return (double)g[i] * ((double)p[i] - mean); }, sdy, sdyx);
    }
    sdyx *= invstd;
    if (dgamma) dgamma[c] = (T)sdyx;
    if (dbeta) dbeta[c] = (T)sdy;
    if (!dx) continue;
    double gm = gamma ? (double)gamma[c] : 1.0;
    // training: dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat))
    double k = gm * invstd;
    double mdy = training && count ? sdy / (double)count : 0.0;
    double mdyx = training && count ? sdyx / (double)count : 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + c) * HW;
      const T* g = dy + (n * C + c) * HW;
      T* q = dx + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        double xhat = ((double)p[i] - mean) * invstd;
        q[i] = (T)(k * ((double)g[i] - mdy - xhat * mdyx));
      }
    }
  }
}

#define SPROUT_INSTANTIATE(T)                                                                \
  template void bn_forward_train<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                    T, T, T*, T*, T*, T*, T*);                               \
  template void bn_forward_eval<T>(const T*, const T*, const T*, const T*, const T*,         \
                                   int64_t, int64_t, int64_t, T, T*, T*, T*);                \
  template void bn_backward<T>(const T*, const T*, const T*, const T*, const T*, int64_t,    \
                               int64_t, int64_t, bool, T*, T*, T*);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
