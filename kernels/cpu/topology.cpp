// CPU topology edits: rows are independent, so counting, merging and gathering run
// OpenMP over rows / entries; the top-k selections use nth_element with an index
// tie-break so CPU and GPU select the same set.
#include "kernels/cpu/topology.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/order_key.h"
#include "kernels/tie_noise.h"

namespace sprout::kernels::cpu {

void sort_grow(int64_t* pos, int64_t* order, int64_t n) {
  std::vector<std::pair<int64_t, int64_t>> v((size_t)n);
  for (int64_t i = 0; i < n; ++i) v[(size_t)i] = {pos[i], order[i]};
  std::sort(v.begin(), v.end());
  for (int64_t i = 0; i < n; ++i) { pos[i] = v[(size_t)i].first; order[i] = v[(size_t)i].second; }
}

// Grown positions of row r: [lo, hi) in the sorted array.
static void grow_range(const int64_t* grow, int64_t n, int64_t r, int64_t grid_cols, int64_t* lo,
                       int64_t* hi) {
  *lo = std::lower_bound(grow, grow + n, r * grid_cols) - grow;
  *hi = std::lower_bound(grow + *lo, grow + n, (r + 1) * grid_cols) - grow;
}

void topology_count(const int32_t* row_ptr, int64_t grid_rows, int64_t grid_cols,
                    const uint8_t* keep, const int64_t* grow, int64_t n_grow,
                    int32_t* new_row_ptr) {
  new_row_ptr[0] = 0;
#pragma omp parallel for schedule(static) if (grid_rows > 256)
  for (int64_t r = 0; r < grid_rows; ++r) {
    int64_t kept = 0;
    if (keep) for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e) kept += keep[e] != 0;
    else kept = row_ptr[r + 1] - row_ptr[r];
    int64_t lo, hi;
    grow_range(grow, n_grow, r, grid_cols, &lo, &hi);
    new_row_ptr[r + 1] = (int32_t)(kept + hi - lo);
  }
  for (int64_t r = 0; r < grid_rows; ++r) new_row_ptr[r + 1] += new_row_ptr[r];
}

int64_t topology_merge(const int32_t* row_ptr, const int32_t* col_idx, int64_t grid_rows,
                       int64_t grid_cols, const uint8_t* keep, const int64_t* grow,
                       const int64_t* order, int64_t n_grow, bool revive, const int32_t* new_row_ptr,
                       int32_t* new_col_idx, int64_t* src) {
  // Positions outside the grid land in no row: catch them before merging.
  if (n_grow > 0 && (grow[0] < 0 || grow[n_grow - 1] >= grid_rows * grid_cols))
    return grow[0] < 0 ? 0 : grid_rows - 1;
  int64_t bad = -1;
#pragma omp parallel for schedule(static) if (grid_rows > 256)
  for (int64_t r = 0; r < grid_rows; ++r) {
    int64_t lo, hi;
    grow_range(grow, n_grow, r, grid_cols, &lo, &hi);
    int64_t e = row_ptr[r], e1 = row_ptr[r + 1], g = lo, out = new_row_ptr[r];
    bool ok = true;
    while (e < e1 || g < hi) {
      if (g > lo && g < hi && grow[g] == grow[g - 1]) { ok = false; break; }
      const int64_t ce = e < e1 ? col_idx[e] : INT64_MAX;
      const int64_t cg = g < hi ? grow[g] - r * grid_cols : INT64_MAX;
      const bool dropped = e < e1 && keep && !keep[e];
      if (ce < cg) {
        if (!dropped) { new_col_idx[out] = (int32_t)ce; src[out++] = e; }
        ++e;
      } else if (cg < ce) {
        new_col_idx[out] = (int32_t)cg; src[out++] = -1 - order[g++];
      } else {  // a grown position that is stored
        if (!dropped) { ok = false; break; }
        new_col_idx[out] = (int32_t)cg;
        src[out++] = revive ? e : -1 - order[g];
        ++e, ++g;
      }
    }
    if (!ok) {
#pragma omp critical
      if (bad < 0 || r < bad) bad = r;
    }
  }
  return bad;
}

template <class T>
void topology_gather(const T* old_vals, const int64_t* src, int64_t new_nnz, int64_t be,
                     const T* grow_vals, T* out) {
#pragma omp parallel for schedule(static) if (new_nnz * be > (1 << 16))
  for (int64_t e = 0; e < new_nnz; ++e) {
    T* o = out + e * be;
    const int64_t s = src[e];
    if (s >= 0) std::copy(old_vals + s * be, old_vals + (s + 1) * be, o);
    else if (grow_vals) std::copy(grow_vals + (-1 - s) * be, grow_vals + (-s) * be, o);
    else std::fill(o, o + be, T(0));
  }
}

template <class T>
void abs_scores(const T* v, int64_t n, int64_t be, int sign, bool noisy, uint64_t seed, T* out) {
#pragma omp parallel for schedule(static) if (n * be > (1 << 16))
  for (int64_t e = 0; e < n; ++e) {
    if (sign != 0 && (v[e] >= T(0)) != (sign > 0)) {
      out[e] = std::numeric_limits<T>::infinity();
      continue;
    }
    T s = T(0);
    for (int64_t t = 0; t < be; ++t) s += std::fabs(v[e * be + t]);
    out[e] = noisy ? s + (T)tie_noise(seed, e) : s;
  }
}

template <class T> int64_t count_nonnegative(const T* v, int64_t n) {
  int64_t c = 0;
#pragma omp parallel for schedule(static) reduction(+ : c) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) c += v[i] >= T(0);
  return c;
}

// The k-th largest of `keys` (1 <= k <= size) and how many keys are strictly larger:
// radix selection, 16 bits per pass over the contiguous keys, with a histogram that
// stays in cache.
template <class U>
static U kth_largest(const std::vector<U>& keys, int64_t k, int64_t* above) {
  std::vector<int64_t> hist(1 << 16);
  U prefix = 0;
  *above = 0;
  for (int shift = (int)sizeof(U) * 8 - 16; shift >= 0; shift -= 16) {
    std::fill(hist.begin(), hist.end(), 0);
    const int hi_bits = (int)sizeof(U) * 8 - shift;  // bits fixed after this pass
    for (U x : keys)
      if (hi_bits == 16 || (x >> (shift + 16)) == (prefix >> (shift + 16))) ++hist[(size_t)((x >> shift) & 0xffff)];
    int64_t digit = 0xffff;
    while (*above + hist[(size_t)digit] < k) *above += hist[(size_t)digit--];
    prefix |= (U)digit << shift;
  }
  return prefix;
}

// The k candidates with the largest keys, lower index first among equal keys, returned
// in ascending index order. each(f) calls f(index, key) for every one of the
// `candidates` in ascending index order (it is called twice): the keys are selected on a contiguous
// copy, then one ordered pass collects the winners.
template <class K, class Each>
static std::vector<int64_t> top_k_ascending(int64_t k, int64_t candidates, Each each) {
  using U = decltype(order_key(K()));
  std::vector<U> keys;
  keys.reserve((size_t)candidates);
  each([&](int64_t, K key) { keys.push_back(order_key(key)); });
  k = std::min<int64_t>(k, (int64_t)keys.size());
  std::vector<int64_t> out;
  if (k <= 0) return out;
  int64_t above = 0;
  const U threshold = kth_largest(keys, k, &above);
  int64_t ties = k - above;  // keys equal to the threshold still to take
  out.reserve((size_t)k);
  each([&](int64_t i, K key) {
    const U u = order_key(key);
    if (u > threshold || (u == threshold && ties-- > 0)) out.push_back(i);
  });
  return out;
}

template <class T> void topk_mask(const T* scores, int64_t n, int64_t k, bool largest, uint8_t* mask) {
  std::fill(mask, mask + n, uint8_t(0));
  auto each = [&](auto f) {
    for (int64_t i = 0; i < n; ++i) f(i, largest ? scores[i] : -scores[i]);
  };
  for (int64_t i : top_k_ascending<T>(std::min(k, n), n, each)) mask[i] = 1;
}

// Calls f(pos) for the open positions of the grid in ascending order: not stored, or
// stored and dropped by keep.
template <class T>
void topk_empty(const T* g, int64_t rows, int64_t cols, int block, const int32_t* row_ptr,
                const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy, uint64_t seed,
                int64_t* out) {
  const int64_t gr = (rows + block - 1) / block, gc = (cols + block - 1) / block;
  std::vector<T> score((size_t)(gr * gc));
#pragma omp parallel for schedule(static) if (gr * gc > (1 << 14))
  for (int64_t R = 0; R < gr; ++R)
    for (int64_t C = 0; C < gc; ++C) {
      T s = T(0);
      for (int64_t i = R * block; i < std::min(rows, (R + 1) * block); ++i)
        for (int64_t j = C * block; j < std::min(cols, (C + 1) * block); ++j) s += std::fabs(g[i * cols + j]);
      const int64_t pos = R * gc + C;
      score[(size_t)pos] = noisy ? s + (T)tie_noise(seed, pos) : s;
    }
  auto each = [&](auto f) { for_open_positions(0, gr, gc, row_ptr, col_idx, keep, [&](int64_t p) { f(p, score[(size_t)p]); }); };
  std::vector<int64_t> picked = top_k_ascending<T>(k, gr * gc - row_ptr[gr], each);
  std::copy(picked.begin(), picked.end(), out);
}

void random_empty(int64_t grid_rows, int64_t grid_cols, const int32_t* row_ptr, const int32_t* col_idx,
                  const uint8_t* keep, int64_t k, uint64_t seed, int64_t* out) {
  auto each = [&](auto f) {
    for_open_positions(0, grid_rows, grid_cols, row_ptr, col_idx, keep,
                       [&](int64_t p) { f(p, (uint32_t)(hash_key(seed, p) >> 33)); });
  };
  std::vector<int64_t> picked = top_k_ascending<uint32_t>(k, grid_rows * grid_cols - row_ptr[grid_rows], each);
  std::copy(picked.begin(), picked.end(), out);
}

template void topology_gather<float>(const float*, const int64_t*, int64_t, int64_t, const float*, float*);
template void topology_gather<double>(const double*, const int64_t*, int64_t, int64_t, const double*, double*);
template void abs_scores<float>(const float*, int64_t, int64_t, int, bool, uint64_t, float*);
template void abs_scores<double>(const double*, int64_t, int64_t, int, bool, uint64_t, double*);
template int64_t count_nonnegative<float>(const float*, int64_t);
template int64_t count_nonnegative<double>(const double*, int64_t);
template void topk_mask<float>(const float*, int64_t, int64_t, bool, uint8_t*);
template void topk_mask<double>(const double*, int64_t, int64_t, bool, uint8_t*);
template void topk_empty<float>(const float*, int64_t, int64_t, int, const int32_t*, const int32_t*, const uint8_t*,
                                int64_t, bool, uint64_t, int64_t*);
template void topk_empty<double>(const double*, int64_t, int64_t, int, const int32_t*, const int32_t*,
                                 const uint8_t*, int64_t, bool, uint64_t, int64_t*);

}  // namespace sprout::kernels::cpu
