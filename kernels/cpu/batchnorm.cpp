// Batch normalisation kernels. Channel statistics are sums over N*HW values, so the
// reductions run one channel per OpenMP iteration and accumulate in double (two
// passes: mean, then squared deviations, which stays accurate when |mean| >> std),
// each in kSumLanes independent partial sums so the adds pipeline and vectorize. The
// per-channel work is compiled for the baseline and for AVX2 (4 doubles per vector),
// with every product and sum rounded on its own (this file builds without contraction),
// so both give the same bits.
#include "kernels/cpu/batchnorm.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/spmm.h"

namespace sprout::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
constexpr int kSumLanes = 8;
// Elements per piece of a plane in the backward pass: a multiple of kSumLanes, so the
// sums over the pieces add in the order one pass over the whole plane would.
constexpr int64_t kPiece = 512;

// Partial sums of f(i) and g(i), in double, in kSumLanes lanes each, fed a plane's
// pieces in order; finish() adds them into s and t.
struct LaneSums {
  double s[kSumLanes] = {}, t[kSumLanes] = {};
  template <class F, class G>
  SPROUT_ALWAYS_INLINE void add(int64_t n, F f, G g) {
    int64_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
      for (int l = 0; l < kSumLanes; ++l) {
        s[l] += f(i + l);
        t[l] += g(i + l);
      }
    for (; i < n; ++i) {  // only in a plane's last piece
      s[0] += f(i);
      t[0] += g(i);
    }
  }
  SPROUT_ALWAYS_INLINE void finish(double& ss, double& tt) {
    for (int w = kSumLanes / 2; w > 0; w /= 2)
      for (int l = 0; l < w; ++l) {
        s[l] += s[l + w];
        t[l] += t[l + w];
      }
    ss += s[0];
    tt += t[0];
  }
};

template <class F>
SPROUT_ALWAYS_INLINE double lane_sum(int64_t n, F f) {
  double s = 0, unused = 0;
  LaneSums l;
  l.add(n, f, [](int64_t) { return 0.0; });
  l.finish(s, unused);
  return s;
}

template <class T>
struct TrainArgs {
  const T *x, *gamma, *beta;
  int64_t N, C, HW;
  T eps, momentum;
  T *running_mean, *running_var, *y, *save_mean, *save_invstd;
};

template <class T>
SPROUT_ALWAYS_INLINE void train_channel(const TrainArgs<T>& a, int64_t c) {
  const int64_t N = a.N, C = a.C, HW = a.HW, count = N * HW;
  double s = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* p = a.x + (n * C + c) * HW;
    s += lane_sum(HW, [p](int64_t i) { return (double)p[i]; });
  }
  double mean = count ? s / (double)count : 0.0;
  double ss = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* p = a.x + (n * C + c) * HW;
    ss += lane_sum(HW, [p, mean](int64_t i) {
      const double d = (double)p[i] - mean;
      return d * d;
    });
  }
  double var = count ? ss / (double)count : 0.0;
  double invstd = 1.0 / std::sqrt(var + (double)a.eps);
  a.save_mean[c] = (T)mean;
  a.save_invstd[c] = (T)invstd;
  if (a.running_mean) a.running_mean[c] = (T)((1.0 - a.momentum) * a.running_mean[c] + a.momentum * mean);
  if (a.running_var) {
    double unbiased = count > 1 ? ss / (double)(count - 1) : var;
    a.running_var[c] = (T)((1.0 - a.momentum) * a.running_var[c] + a.momentum * unbiased);
  }
  if (!a.y) return;
  T sc = (T)invstd * (a.gamma ? a.gamma[c] : T(1));
  T sh = (a.beta ? a.beta[c] : T(0)) - (T)mean * sc;
  for (int64_t n = 0; n < N; ++n) {
    const T* p = a.x + (n * C + c) * HW;
    T* q = a.y + (n * C + c) * HW;
    for (int64_t i = 0; i < HW; ++i) q[i] = p[i] * sc + sh;
  }
}

template <class T>
struct BackwardArgs {
  const T *x, *dy, *save_mean, *save_invstd, *gamma, *beta;  // beta: the ReLU mask's shift
  int64_t N, C, HW;
  bool training;
  T *dx, *dgamma, *dbeta;
};

// One channel's gradients; with Relu, dy passes where the normalised input (formed as
// kernels/cpu/bn_act.cpp forms it, so the mask is its mask) is positive, piece by piece
// into a buffer, so the masked gradient is never written out.
template <class T, bool Relu>
SPROUT_ALWAYS_INLINE void backward_channel(const BackwardArgs<T>& a, int64_t c) {
  const int64_t N = a.N, C = a.C, HW = a.HW, count = N * HW;
  const double mean = (double)a.save_mean[c], invstd = (double)a.save_invstd[c];
  const T sc = a.save_invstd[c] * (a.gamma ? a.gamma[c] : T(1));
  const T sh = (a.beta ? a.beta[c] : T(0)) - a.save_mean[c] * sc;
  T buf[kPiece];
  auto piece = [&](const T* __restrict g, const T* __restrict p, int64_t n) -> const T* {
    if constexpr (!Relu) return g;
    for (int64_t i = 0; i < n; ++i) {
      const T gi = g[i];  // loaded unconditionally, so the select vectorizes
      buf[i] = p[i] * sc + sh > T(0) ? gi : T(0);
    }
    return buf;
  };
  // sum dy and sum dy * xhat, the two reductions every output needs.
  double sdy = 0, sdyx = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* p = a.x + (n * C + c) * HW;
    const T* g = a.dy + (n * C + c) * HW;
    LaneSums sums;
    for (int64_t i0 = 0; i0 < HW; i0 += kPiece) {
      const int64_t len = std::min(kPiece, HW - i0);
      const T* gz = piece(g + i0, p + i0, len);
      const T* pp = p + i0;
      sums.add(len, [gz](int64_t i) { return (double)gz[i]; },
               [gz, pp, mean](int64_t i) { return (double)gz[i] * ((double)pp[i] - mean); });
    }
    sums.finish(sdy, sdyx);
  }
  sdyx *= invstd;
  if (a.dgamma) a.dgamma[c] = (T)sdyx;
  if (a.dbeta) a.dbeta[c] = (T)sdy;
  if (!a.dx) return;
  const double gm = a.gamma ? (double)a.gamma[c] : 1.0;
  // training: dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat))
  const double k = gm * invstd;
  const double mdy = a.training && count ? sdy / (double)count : 0.0;
  const double mdyx = a.training && count ? sdyx / (double)count : 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i0 = 0; i0 < HW; i0 += kPiece) {
      const int64_t len = std::min(kPiece, HW - i0), o = (n * C + c) * HW + i0;
      const T* p = a.x + o;
      const T* gz = piece(a.dy + o, p, len);
      T* q = a.dx + o;
      for (int64_t i = 0; i < len; ++i) {
        double xhat = ((double)p[i] - mean) * invstd;
        q[i] = (T)(k * ((double)gz[i] - mdy - xhat * mdyx));
      }
    }
}

template <class T> SPROUT_TARGET_AVX2 void train_channel_avx2(const TrainArgs<T>& a, int64_t c) { train_channel(a, c); }
template <class T> void train_channel_base(const TrainArgs<T>& a, int64_t c) { train_channel(a, c); }
template <class T, bool Relu>
SPROUT_TARGET_AVX2 void backward_channel_avx2(const BackwardArgs<T>& a, int64_t c) { backward_channel<T, Relu>(a, c); }
template <class T, bool Relu>
void backward_channel_base(const BackwardArgs<T>& a, int64_t c) { backward_channel<T, Relu>(a, c); }

template <class T, bool Relu>
void backward_channels(const BackwardArgs<T>& a) {
  const bool avx2 = cpu_has_avx2();
#pragma omp parallel for schedule(static) if (a.N * a.C * a.HW > kParallelMin)
  for (int64_t c = 0; c < a.C; ++c) {
    if (avx2) backward_channel_avx2<T, Relu>(a, c);
    else backward_channel_base<T, Relu>(a, c);
  }
}

}  // namespace

template <class T>
void bn_forward_train(const T* x, const T* gamma, const T* beta, int64_t N, int64_t C,
                      int64_t HW, T eps, T momentum, T* running_mean, T* running_var, T* y,
                      T* save_mean, T* save_invstd) {
  const TrainArgs<T> a{x, gamma, beta, N, C, HW, eps, momentum, running_mean, running_var, y, save_mean, save_invstd};
  const bool avx2 = cpu_has_avx2();
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    if (avx2) train_channel_avx2(a, c);
    else train_channel_base(a, c);
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
  backward_channels<T, false>({x, dy, save_mean, save_invstd, gamma, nullptr, N, C, HW, training, dx, dgamma, dbeta});
}

template <class T>
void bn_relu_backward(const T* x, const T* dy, const T* save_mean, const T* save_invstd, const T* gamma,
                      const T* beta, int64_t N, int64_t C, int64_t HW, bool training, T* dx, T* dgamma,
                      T* dbeta) {
  backward_channels<T, true>({x, dy, save_mean, save_invstd, gamma, beta, N, C, HW, training, dx, dgamma, dbeta});
}

#define SPROUT_INSTANTIATE(T)                                                                \
  template void bn_forward_train<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                    T, T, T*, T*, T*, T*, T*);                               \
  template void bn_forward_eval<T>(const T*, const T*, const T*, const T*, const T*,         \
                                   int64_t, int64_t, int64_t, T, T*, T*, T*);                \
  template void bn_backward<T>(const T*, const T*, const T*, const T*, const T*, int64_t,    \
                               int64_t, int64_t, bool, T*, T*, T*);                          \
  template void bn_relu_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, \
                                    int64_t, int64_t, int64_t, bool, T*, T*, T*);
SPROUT_INSTANTIATE(float)
SPROUT_INSTANTIATE(double)
#undef SPROUT_INSTANTIATE

}  // namespace sprout::kernels::cpu
