// WeightDraw: the stream walk (bit-identical to a dense fill) and the hashed draw.
#include "engine/nn/weight_draw.h"

#include "engine/core/error.h"
#include "kernels/tie_noise.h"

namespace sprout::nn {

namespace {

thread_local bool g_deferred = false;

float hashed_uniform(uint64_t seed, int64_t pos, double bound) {
  const double u = (double)(kernels::hash_key(seed, pos) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(-bound + 2.0 * bound * u);
}

}  // namespace

WeightDraw WeightDraw::plan(int64_t rows, int64_t cols, double bound, Rng& rng) {
  SPROUT_CHECK(rows >= 0 && cols >= 0, "weight of ", rows, " x ", cols, ": sizes must be non-negative");
  WeightDraw d;
  d.rows = rows;
  d.cols = cols;
  d.bound = bound;
  const int64_t n = rows * cols;
  d.streamed = n <= kStreamedDrawLimit;
  if (d.streamed) {
    d.start = rng.state();
    for (int64_t i = 0; i < n; ++i) rng.next_u64();
  } else {
    d.seed = rng.next_u64();
  }
  return d;
}

void WeightDraw::values_at(const int64_t* pos, int64_t n, float* out) const {
  if (!streamed) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = hashed_uniform(seed, pos[i], bound);
    return;
  }
  Rng r;
  r.set_state(start);
  int64_t at = 0;  // the position the stream's next draw belongs to
  for (int64_t i = 0; i < n; ++i) {
    SPROUT_CHECK(pos[i] >= at && pos[i] < rows * cols, "WeightDraw: position ", pos[i],
                 " out of order or outside a ", rows, " x ", cols, " weight");
    for (; at < pos[i]; ++at) r.next_u64();
    out[i] = (float)r.uniform(-bound, bound);
    ++at;
  }
}

Tensor WeightDraw::dense() const {
  Tensor w = Tensor::empty({rows, cols}, DType::F32, Device::cpu(), MemCategory::Weights);
  float* d = w.data<float>();
  if (streamed) {
    Rng r;
    r.set_state(start);
    for (int64_t i = 0; i < rows * cols; ++i) d[i] = (float)r.uniform(-bound, bound);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows * cols; ++i) d[i] = hashed_uniform(seed, i, bound);
  }
  return w;
}

DeferDenseWeights::DeferDenseWeights() : saved_(g_deferred) { g_deferred = true; }
DeferDenseWeights::~DeferDenseWeights() { g_deferred = saved_; }
bool dense_weights_deferred() { return g_deferred; }

}  // namespace sprout::nn
