// Host-side structure helpers: O(nnz) flat positions, and random empty positions by
// rejection (far from full) or a partial Fisher-Yates draw over the empty ones.
#include "engine/sparsity/select.h"

#include <algorithm>
#include <unordered_set>

#include "engine/core/error.h"

namespace sprout::sparsity {

std::vector<int64_t> flat_positions(const std::vector<int32_t>& row_ptr,
                                    const std::vector<int32_t>& col_idx, int64_t cols) {
  std::vector<int64_t> out(col_idx.size());
  for (size_t r = 0; r + 1 < row_ptr.size(); ++r)
    for (int32_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e)
      out[(size_t)e] = (int64_t)r * cols + col_idx[(size_t)e];
  return out;
}

std::vector<int64_t> random_empty(int64_t rows, int64_t cols, const std::vector<int64_t>& occupied,
                                  int64_t k, Rng& rng) {
  int64_t total = rows * cols, free = total - (int64_t)occupied.size();
  SPROUT_CHECK(k <= free, "cannot grow ", k, " positions: only ", free, " of ", total, " are empty");
  std::vector<int64_t> out;
  if (k <= 0) return out;
  out.reserve((size_t)k);
  if ((double)free > 4.0 * (double)k && (double)occupied.size() < 0.75 * (double)total) {
    // Rejection sampling: fast when the layer is far from full.
    std::unordered_set<int64_t> taken(occupied.begin(), occupied.end());
    taken.reserve(occupied.size() + (size_t)k);
    while ((int64_t)out.size() < k) {
      int64_t p = (int64_t)rng.below((uint64_t)total);
      if (taken.insert(p).second) out.push_back(p);
    }
  } else {
    // Enumerate the empty positions, then a partial Fisher-Yates draw.
    std::vector<int64_t> empty;
    empty.reserve((size_t)free);
    size_t j = 0;
    for (int64_t p = 0; p < total; ++p) {
      while (j < occupied.size() && occupied[j] < p) ++j;
      if (j < occupied.size() && occupied[j] == p) continue;
      empty.push_back(p);
    }
    for (int64_t i = 0; i < k; ++i) {
      size_t r = (size_t)i + (size_t)rng.below((uint64_t)(empty.size() - (size_t)i));
      std::swap(empty[(size_t)i], empty[r]);
      out.push_back(empty[(size_t)i]);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sprout::sparsity
