// Growth by gradient magnitude without the dense gradient: which open positions of a
// sparse weight get the k largest |dL/dW|, from the gradient's factors (the layer's
// input and output gradient). Exact growth forms dL/dW a row tile at a time within a
// byte budget and keeps a running top-k: the same decisions as topk_empty_positions on
// the whole dense gradient, in O(tile + k) memory and n_in x n_out x batch work. Sampled
// growth scores c x k random open positions by their exact gradient, O(c k batch) work,
// for layers too wide for exact scoring. grow_by_gradient is the one entry point every
// method that grows by gradient (RigL, GraNet, EAST) calls.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"

namespace sprout::ops {

struct GrowConfig {
  bool sampled = false;           // sparsity.grow = "sampled"
  int64_t budget_bytes = 64 << 20;  // sparsity.grow_budget_bytes: the exact path's tile
  int64_t candidates = 10;        // sparsity.grow_candidates: c, candidates per grown position
};

// The rows of dW one tile of the exact path holds within `budget_bytes` (a multiple of
// the block, at least one block row).
int64_t grow_tile_rows(const sparse::SparseParameter& p, int64_t budget_bytes, size_t elem_bytes);

// I64 [k], ascending: the k open positions (see topk_empty_positions: not stored, or
// dropped by `keep`) with the largest |gt xt^T| (block sums for BSR), tie noise from
// tie_seed; computed over row tiles of at most budget_bytes (workspace category).
Tensor grow_exact_tiled(const sparse::SparseParameter& p, const Tensor& gt, const Tensor& xt, int64_t k,
                        const Tensor& keep, int64_t kept, std::optional<uint64_t> tie_seed, int64_t budget_bytes);
// I64 [k], ascending: the best k of min(c k, open) distinct open positions drawn from
// sample_seed, each scored by its exact gradient; when c k covers half the open
// positions or more, exact growth instead (the sampled ranking would cost as much).
Tensor grow_sampled(const sparse::SparseParameter& p, const Tensor& gt, const Tensor& xt, int64_t k,
                    const Tensor& keep, int64_t kept, std::optional<uint64_t> tie_seed, int64_t candidates,
                    uint64_t sample_seed, int64_t budget_bytes);

// The growth decision a method makes from a layer's gradient: from the dense gradient
// when the op handed one (convolutions), else exact or sampled from the factors, on
// the CPU or the GPU (a GPU's sampled growth waits for one count per round of draws).
// The sampled candidates are drawn from a key derived from tie_seed, so a method's RNG
// stream is the same whichever growth it uses. Data-parallel training makes the
// gradient whole around this call.
Tensor grow_by_gradient(const sparse::SparseParameter& p, const sparse::GradFactors& grad, int64_t k,
                        const Tensor& keep, int64_t kept, uint64_t tie_seed, const GrowConfig& cfg);

}  // namespace sprout::ops
