// Topology edits of a sparse weight, and the selections sparse-training methods make
// before one: drop entries, insert new positions, carry the values and optimizer
// state of the survivors, zero the new ones, all O(nnz) per layer on the weight's
// device. For BSR weights every count, mask and position is in blocks.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/sparse/parameter.h"

namespace sprout::ops {

struct TopologyEdit {
  // U8 [nnz_blocks]: 1 keeps a stored entry, 0 drops it. Undefined: keep all.
  Tensor keep;
  // I64 [g]: flat positions row * grid_cols + col to insert, any order, distinct, each
  // empty once the drop is done (so a dropped position may come back as new).
  Tensor grow;
  // [g * block * block] values for the new entries, in `grow`'s order. Undefined: 0.
  Tensor grow_values;
  // A grown position that this edit drops is revived: it keeps its value and state
  // (RigL's rule). Otherwise it comes back as a new entry.
  bool revive = false;
  // The number of (block) entries after the edit when the caller knows it (kept + grown).
  // On a GPU nothing is then read back: the check of the grown positions is queued and
  // reported by check_deferred() (engine/ops/deferred.h). -1: counted on the device and
  // read back.
  int64_t new_nnz_blocks = -1;
};

// Applies `edit` to p and to each optimizer state tensor in `state` (each aligned
// with p.values): rows stay sorted, survivors keep value and state, new entries get
// grow_values (or 0) and state 0. Replaces p.row_ptr / col_idx / values (the new
// values require grad, category weights) and every *state (category optimizer), and
// leaves p.values without a gradient. On a GPU without new_nnz_blocks it reads back the
// new count and the verdict on the grown positions (two small synchronous reads); with
// it, nothing, and a failed edit still leaves a structure every kernel can read safely
// until check_deferred() reports it. Returns the new number of stored values.
int64_t edit_topology(sparse::SparseParameter& p, const std::vector<Tensor*>& state,
                      const TopologyEdit& edit);
// The same with host-side decisions.
int64_t edit_topology(sparse::SparseParameter& p, const std::vector<Tensor*>& state,
                      const std::vector<uint8_t>& keep, const std::vector<int64_t>& grow);

// |value| per entry, or the sum of |values| per block for BSR: [nnz_blocks]. With a
// tie seed, plus noise below 2^-40 drawn from (seed, entry), the same on every device,
// so that equal magnitudes (new zero entries) are ordered at random. sign +1 (-1):
// only entries with value >= 0 (< 0) are scored, the others get +infinity (CSR only).
Tensor magnitude_scores(const sparse::SparseParameter& p, std::optional<uint64_t> tie_seed = std::nullopt,
                        int sign = 0);
// Number of stored values >= 0 (read back from a GPU: one synchronous read).
int64_t count_nonnegative(const Tensor& values);
// U8 mask with exactly k ones at the k largest (or smallest) scores; ties go to the
// lower index, the same on every device.
Tensor topk_mask(const Tensor& scores, int64_t k, bool largest);
// topk_mask(magnitude_scores(p, tie_seed), k, largest).
Tensor magnitude_topk_mask(const sparse::SparseParameter& p, int64_t k, bool largest,
                           std::optional<uint64_t> tie_seed = std::nullopt);

// One layer's dense weight gradient dy^T x ([out, in], workspace category): x [N, in],
// dy [N, out]. A GEMM, for regrowth scores on update steps only.
Tensor dense_weight_grad(const Tensor& x, const Tensor& dy);
// The open positions of p: those not stored, plus, when `keep` (U8 [nnz_blocks] with
// `kept` ones) is given, the stored ones it drops.
// I64 [k], ascending: the k open positions with the largest |dense_grad| (block sums of
// |.| for BSR; positions in blocks), plus tie noise when a seed is given; remaining ties
// go to the lower position.
Tensor topk_empty_positions(const sparse::SparseParameter& p, const Tensor& dense_grad, int64_t k,
                            const Tensor& keep = Tensor(), int64_t kept = -1,
                            std::optional<uint64_t> tie_seed = std::nullopt);
// I64 [k], ascending: k open positions drawn uniformly from `seed` (a random 31-bit key
// per position, the k largest kept), computed on p's device; the same on every device.
Tensor random_empty_positions(const sparse::SparseParameter& p, int64_t k, uint64_t seed,
                              const Tensor& keep = Tensor(), int64_t kept = -1);

}  // namespace sprout::ops
