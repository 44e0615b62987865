// WeightDraw: the stream walk (bit-identical to a dense fill) and the hashed draw, for
// uniform and normal weights.
#include "engine/nn/weight_draw.h"

#include <cmath>

#include "engine/core/error.h"
#include "kernels/tie_noise.h"

namespace sprout::nn {

namespace {

thread_local bool g_deferred = false;

double hashed_unit(uint64_t seed, int64_t i) {
  return (double)(kernels::hash_key(seed, i) >> 11) * (1.0 / 9007199254740992.0);
}

// Box-Muller as Rng::normal, from two hashed uniforms.
double unit_normal(double u1, double u2) {
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

float hashed_value(const WeightDraw& d, int64_t pos) {
  if (d.normal) return (float)(0.0 + d.bound * unit_normal(hashed_unit(d.seed, 2 * pos), hashed_unit(d.seed, 2 * pos + 1)));
  return (float)(-d.bound + 2.0 * d.bound * hashed_unit(d.seed, pos));
}

// The next value of a dense fill from stream r, exactly as uniform_ / normal_ draw it.
float streamed_value(const WeightDraw& d, Rng& r) {
  return d.normal ? (float)(0.0 + d.bound * r.normal()) : (float)r.uniform(-d.bound, d.bound);
}

int64_t draws_per_value(const WeightDraw& d) { return d.normal ? 2 : 1; }

WeightDraw plan_draw(int64_t rows, int64_t cols, double scale, bool normal, Rng& rng) {
  SPROUT_CHECK(rows >= 0 && cols >= 0, "weight of ", rows, " x ", cols, ": sizes must be non-negative");
  WeightDraw d;
  d.rows = rows;
  d.cols = cols;
  d.bound = scale;
  d.normal = normal;
  const int64_t n = rows * cols;
  d.streamed = n <= kStreamedDrawLimit;
  if (d.streamed) {
    d.start = rng.state();
    for (int64_t i = 0; i < n * draws_per_value(d); ++i) rng.next_u64();
  } else {
    d.seed = rng.next_u64();
  }
  return d;
}
}  // namespace

WeightDraw WeightDraw::plan(int64_t rows, int64_t cols, double bound, Rng& rng) {
  return plan_draw(rows, cols, bound, false, rng);
}

WeightDraw WeightDraw::plan_normal(int64_t rows, int64_t cols, double std, Rng& rng) {
  return plan_draw(rows, cols, std, true, rng);
}

void WeightDraw::values_at(const int64_t* pos, int64_t n, float* out) const {
  if (!streamed) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = hashed_value(*this, pos[i]);
    return;
  }
  Rng r;
  r.set_state(start);
  int64_t at = 0;  // the position the stream's next draw belongs to
  for (int64_t i = 0; i < n; ++i) {
    SPROUT_CHECK(pos[i] >= at && pos[i] < rows * cols, "WeightDraw: position ", pos[i],
                 " out of order or outside a ", rows, " x ", cols, " weight");
    for (; at < pos[i]; ++at)
      for (int64_t k = 0; k < draws_per_value(*this); ++k) r.next_u64();
    out[i] = streamed_value(*this, r);
    ++at;
  }
}

Tensor WeightDraw::dense() const {
  Tensor w = Tensor::empty({rows, cols}, DType::F32, Device::cpu(), MemCategory::Weights);
  float* d = w.data<float>();
  if (streamed) {
    Rng r;
    r.set_state(start);
    for (int64_t i = 0; i < rows * cols; ++i) d[i] = streamed_value(*this, r);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows * cols; ++i) d[i] = hashed_value(*this, i);
  }
  return w;
}

DeferDenseWeights::DeferDenseWeights() : saved_(g_deferred) { g_deferred = true; }
DeferDenseWeights::~DeferDenseWeights() { g_deferred = saved_; }
bool dense_weights_deferred() { return g_deferred; }

}  // namespace sprout::nn
