// Topology edits of a sparse weight, and the selections sparse-training methods make
// before one: drop entries, insert new positions, carry the values and optimizer
// state of the survivors, zero the new ones, all O(nnz) per layer on the weight's
// device. For BSR weights every count, mask and position is in blocks.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/rng.h"
#include "engine/core/tensor.h"
#include "engine/sparse/sparse_parameter.h"

namespace sprout::ops {

struct TopologyEdit {
  // U8 [nnz_blocks]: 1 keeps a stored entry, 0 drops it. Undefined: keep all.
  Tensor keep;
  // I64 [g]: flat positions row * grid_cols + col to insert, any order, distinct, each
  // empty once the drop is done (so a dropped position may come back as new).
  Tensor grow;
  // [g * block * block] values for the new entries, in `grow`'s order. Undefined: 0.
  Tensor grow_values;
};

// Applies `edit` to p and to each optimizer state tensor in `state` (each aligned
// with p.values): rows stay sorted, survivors keep value and state, new entries get
// grow_values (or 0) and state 0. Replaces p.row_ptr / col_idx / values (the new
// values require grad, category weights) and every *state (category optimizer), and
// leaves p.values without a gradient. On a GPU it reads back the new count (to size
// the tensors) and the verdict on the grown positions: two small synchronous reads per
// edit. Returns the new number of stored values.
int64_t edit_topology(sparse::SparseParameter& p, const std::vector<Tensor*>& state,
                      const TopologyEdit& edit);
// The same with host-side decisions.
int64_t edit_topology(sparse::SparseParameter& p, const std::vector<Tensor*>& state,
                      const std::vector<uint8_t>& keep, const std::vector<int64_t>& grow);

// |value| per entry, or the sum of |values| per block for BSR: [nnz_blocks].
Tensor magnitude_scores(const sparse::SparseParameter& p);
// U8 mask with exactly k ones at the k largest (or smallest) scores; ties go to the
// lower index, the same on every device.
Tensor topk_mask(const Tensor& scores, int64_t k, bool largest);
// topk_mask(magnitude_scores(p), k, largest).
Tensor magnitude_topk_mask(const sparse::SparseParameter& p, int64_t k, bool largest);

// One layer's dense weight gradient dy^T x ([out, in], workspace category): x [N, in],
// dy [N, out]. A GEMM, for regrowth scores on update steps only.
Tensor dense_weight_grad(const Tensor& x, const Tensor& dy);
// I64 [k], ascending: the k empty (not stored) positions with the largest |dense_grad|
// (block sums of |.| for BSR; positions in blocks). Ties go to the lower position.
Tensor topk_empty_positions(const sparse::SparseParameter& p, const Tensor& dense_grad, int64_t k);
// I64 [k], ascending, on p's device: k empty positions drawn uniformly (host sampling).
Tensor random_empty_positions(const sparse::SparseParameter& p, int64_t k, Rng& rng);

}  // namespace sprout::ops
