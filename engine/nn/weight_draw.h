// A layer's initial weight, U(-bound, bound) or N(0, std^2), as a recipe rather than a
// tensor, so a sparse layer can draw its values at the positions it stores without the
// dense weight ever existing. Weights up to kStreamedDrawLimit entries come from the init stream in
// row-major order, exactly as a dense fill would draw them; larger ones from a
// counter-based hash of (seed, position), the same distribution at O(1) cost per entry.
#pragma once
#include <array>
#include <cstdint>

#include "engine/core/rng.h"
#include "engine/core/tensor.h"

namespace sprout::nn {

// Larger weights are drawn by position: walking 2^31 stream draws per layer is seconds.
constexpr int64_t kStreamedDrawLimit = int64_t(1) << 31;

struct WeightDraw {
  int64_t rows = 0, cols = 0;
  double bound = 0;                 // uniform: the bound; normal: the standard deviation
  bool normal = false;              // N(0, bound^2) as normal_ draws it (two stream draws each)
  bool streamed = true;             // true: stream from `start`; false: hashed from `seed`
  std::array<uint64_t, 4> start{};  // the init stream's state before the weight's first draw
  uint64_t seed = 0;

  // The recipe for a rows x cols weight; advances `rng` past the draws a dense fill makes
  // (streamed) or by one draw (the hash seed), so later layers draw what they always did.
  static WeightDraw plan(int64_t rows, int64_t cols, double bound, Rng& rng);
  // The same for N(0, std^2), as normal_ fills a dense weight.
  static WeightDraw plan_normal(int64_t rows, int64_t cols, double std, Rng& rng);
  // The value at each flat position row * cols + col of `pos` (ascending), into out[i].
  void values_at(const int64_t* pos, int64_t n, float* out) const;
  // The whole [rows, cols] weight (category weights), for a layer that stays dense.
  Tensor dense() const;
};

// While one is alive, Linear and Conv2d layers record a WeightDraw instead of allocating their
// weight (a run whose method starts sparse builds its model under one); the sparsifier
// then builds sparse layers from it, or materialises the layers that stay dense.
class DeferDenseWeights {
 public:
  DeferDenseWeights();
  ~DeferDenseWeights();
  DeferDenseWeights(const DeferDenseWeights&) = delete;
  DeferDenseWeights& operator=(const DeferDenseWeights&) = delete;

 private:
  bool saved_;
};
bool dense_weights_deferred();

}  // namespace sprout::nn
