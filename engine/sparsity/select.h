// Host-side helpers for initial structures (the per-step selections run on the
// layer's device, engine/ops/topology.h): flat positions of a CSR structure, and
// random empty positions. Positions are flat dense indices row * cols + col;
// `occupied` sets are sorted vectors of them.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/rng.h"

namespace sprout::sparsity {

// Flat positions of a CSR structure, in storage order (row-major, sorted).
std::vector<int64_t> flat_positions(const std::vector<int32_t>& row_ptr,
                                    const std::vector<int32_t>& col_idx, int64_t cols);

// k distinct positions drawn uniformly from [0, rows * cols) minus `occupied`.
std::vector<int64_t> random_empty(int64_t rows, int64_t cols, const std::vector<int64_t>& occupied,
                                  int64_t k, Rng& rng);

}  // namespace sprout::sparsity
