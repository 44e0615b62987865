// Host-side selection rules the methods share: which entries of a layer survive a
// drop (magnitude, sign-separated SET rule), and which empty positions are grown
// (uniformly at random, or the largest dense |gradient|). Positions are flat dense
// indices row * cols + col; `occupied` sets are sorted vectors of them.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/rng.h"

namespace sprout::sparsity {

// Flat positions of a CSR structure, in storage order (row-major, sorted).
std::vector<int64_t> flat_positions(const std::vector<int32_t>& row_ptr,
                                    const std::vector<int32_t>& col_idx, int64_t cols);

// keep[e] = 1 for the `keep` entries of largest |v| (ties broken by tiny noise drawn
// from rng, as RigL does), 0 for the rest.
std::vector<uint8_t> keep_largest(const std::vector<float>& v, int64_t keep, Rng& rng);

// SET: among positive values drop the fraction zeta closest to zero, and separately
// among negative values; zeros count as positive.
std::vector<uint8_t> set_keep(const std::vector<float>& v, double zeta);

// k distinct positions drawn uniformly from [0, rows * cols) minus `occupied`.
std::vector<int64_t> random_empty(int64_t rows, int64_t cols, const std::vector<int64_t>& occupied,
                                  int64_t k, Rng& rng);

// The k positions with the largest |g| among those not in `excluded` (sorted flat
// positions); g is dense [rows * cols] on the host. Ties go to the lower position.
std::vector<int64_t> top_k_excluding(const float* g, int64_t n, const std::vector<int64_t>& excluded,
                                     int64_t k);

}  // namespace sprout::sparsity
