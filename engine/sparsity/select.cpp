// Selection rules. Everything is O(nnz log nnz) or O(rows * cols) for the dense
// gradient scan; nothing here allocates a dense mask.
#include "engine/sparsity/select.h"

#include <algorithm>
#include <cmath>
#include <numeric>
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

std::vector<uint8_t> keep_largest(const std::vector<float>& v, int64_t keep, Rng& rng) {
  int64_t n = (int64_t)v.size();
  keep = std::max<int64_t>(0, std::min(keep, n));
  std::vector<uint8_t> out((size_t)n, 0);
  if (keep == 0) return out;
  std::vector<double> score((size_t)n);
  for (int64_t i = 0; i < n; ++i) score[(size_t)i] = std::fabs((double)v[(size_t)i]) + 1e-12 * rng.uniform();
  std::vector<int64_t> idx((size_t)n);
  std::iota(idx.begin(), idx.end(), 0);
  std::nth_element(idx.begin(), idx.begin() + (keep - 1), idx.end(),
                   [&](int64_t a, int64_t b) { return score[(size_t)a] > score[(size_t)b]; });
  for (int64_t i = 0; i < keep; ++i) out[(size_t)idx[(size_t)i]] = 1;
  return out;
}

std::vector<uint8_t> set_keep(const std::vector<float>& v, double zeta) {
  std::vector<uint8_t> keep(v.size(), 1);
  std::vector<size_t> pos, neg;
  for (size_t i = 0; i < v.size(); ++i) (v[i] >= 0 ? pos : neg).push_back(i);
  auto drop_smallest = [&](std::vector<size_t>& ids) {
    size_t k = (size_t)std::floor(zeta * (double)ids.size());
    if (k == 0) return;
    std::nth_element(ids.begin(), ids.begin() + (long)(k - 1), ids.end(),
                     [&](size_t a, size_t b) { return std::fabs(v[a]) < std::fabs(v[b]) || (std::fabs(v[a]) == std::fabs(v[b]) && a < b); });
    for (size_t i = 0; i < k; ++i) keep[ids[i]] = 0;
  };
  drop_smallest(pos);
  drop_smallest(neg);
  return keep;
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

std::vector<int64_t> top_k_excluding(const float* g, int64_t n, const std::vector<int64_t>& excluded,
                                     int64_t k) {
  std::vector<int64_t> cand;
  cand.reserve((size_t)(n - (int64_t)excluded.size()));
  size_t j = 0;
  for (int64_t p = 0; p < n; ++p) {
    while (j < excluded.size() && excluded[j] < p) ++j;
    if (j < excluded.size() && excluded[j] == p) continue;
    cand.push_back(p);
  }
  k = std::min<int64_t>(k, (int64_t)cand.size());
  if (k <= 0) return {};
  auto better = [&](int64_t a, int64_t b) {
    float fa = std::fabs(g[a]), fb = std::fabs(g[b]);
    return fa > fb || (fa == fb && a < b);
  };
  std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), better);
  cand.resize((size_t)k);
  std::sort(cand.begin(), cand.end());
  return cand;
}

}  // namespace sprout::sparsity
