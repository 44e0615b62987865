// GPU topology edits (float32 values): a thread per row counts and merges (rows are
// independent and short), CUB sorts and scans, and top-k selections sort
// order-preserving integer keys with CUB's stable radix sort, so ties go to the lower
// index exactly as on the CPU.
#include <stdexcept>
#include <string>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "kernels/cuda/carve.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/order_key.cuh"
#include "kernels/cuda/topology.h"
#include "kernels/tie_noise.h"

namespace sprout::kernels::cuda {

namespace {

constexpr int kThreads = 256;


__global__ void iota_k(int64_t* v, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) v[i] = i;
}

__device__ int64_t lower_bound_dev(const int64_t* v, int64_t n, int64_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (v[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

__global__ void count_k(const int32_t* row_ptr, int64_t rows, int64_t cols, const uint8_t* keep,
                        const int64_t* grow, int64_t n_grow, int32_t* counts) {
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  int64_t kept = 0;
  if (keep) for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e) kept += keep[e] != 0;
  else kept = row_ptr[r + 1] - row_ptr[r];
  const int64_t lo = lower_bound_dev(grow, n_grow, r * cols), hi = lower_bound_dev(grow, n_grow, (r + 1) * cols);
  counts[r] = (int32_t)(kept + hi - lo);
}

// Same walk as the CPU's topology_merge. With a known count (cap >= 0) the row
// offsets are checked against it before anything is written.
__global__ void merge_k(const int32_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols,
                        const uint8_t* keep, const int64_t* grow, const int64_t* order, int64_t n_grow, bool revive,
                        int64_t cap, const int32_t* new_row_ptr, int32_t* new_col_idx, int64_t* src,
                        unsigned long long* bad) {
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  if (cap >= 0 && (new_row_ptr[r + 1] > cap || (r == rows - 1 && new_row_ptr[rows] != cap))) {
    atomicMin(bad, (unsigned long long)r);
    return;
  }
  const int64_t lo = lower_bound_dev(grow, n_grow, r * cols), hi = lower_bound_dev(grow, n_grow, (r + 1) * cols);
  int64_t e = row_ptr[r], e1 = row_ptr[r + 1], g = lo, out = new_row_ptr[r];
  while (e < e1 || g < hi) {
    if (g > lo && g < hi && grow[g] == grow[g - 1]) {
      atomicMin(bad, (unsigned long long)r);
      return;
    }
    const int64_t ce = e < e1 ? col_idx[e] : INT64_MAX;
    const int64_t cg = g < hi ? grow[g] - r * cols : INT64_MAX;
    const bool dropped = e < e1 && keep && !keep[e];
    if (ce < cg) {
      if (!dropped) { new_col_idx[out] = (int32_t)ce; src[out++] = e; }
      ++e;
    } else if (cg < ce) {
      new_col_idx[out] = (int32_t)cg;
      src[out++] = -1 - order[g++];
    } else {
      if (!dropped) {
        atomicMin(bad, (unsigned long long)r);
        return;
      }
      new_col_idx[out] = (int32_t)cg;
      src[out++] = revive ? e : -1 - order[g];
      ++e, ++g;
    }
  }
}

// After a merge with a known count: offsets past the count are cut back to it.
__global__ void clamp_offsets_k(int32_t* row_ptr, int64_t n, int64_t cap) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    if (row_ptr[i] > cap) row_ptr[i] = (int32_t)cap;
}

__global__ void range_check_k(const int64_t* grow, int64_t n, int64_t limit, unsigned long long* bad) {
  if (n > 0 && (grow[0] < 0 || grow[n - 1] >= limit)) atomicMin(bad, 0ull);
}

__global__ void gather_k(const float* old_vals, const int64_t* src, int64_t total, int64_t be,
                         const float* grow_vals, float* out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t e = i / be, t = i % be, s = src[e];
    out[i] = s >= 0 ? old_vals[s * be + t] : (grow_vals ? grow_vals[(-1 - s) * be + t] : 0.f);
  }
}

__global__ void abs_scores_k(const float* v, int64_t n, int64_t be, int sign, bool noisy, uint64_t seed,
                             float* out) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    if (sign != 0 && (v[e] >= 0.f) != (sign > 0)) {
      out[e] = INFINITY;
      continue;
    }
    float s = 0.f;
    for (int64_t t = 0; t < be; ++t) s += fabsf(v[e * be + t]);
    out[e] = noisy ? s + tie_noise(seed, e) : s;
  }
}

__global__ void count_nonneg_k(const float* v, int64_t n, unsigned long long* count) {
  unsigned long long c = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    c += v[i] >= 0.f;
  if (c) atomicAdd(count, c);
}

__global__ void keys_k(const float* s, int64_t n, uint32_t* keys, int64_t* idx) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    keys[i] = order_key(s[i]);
    idx[i] = i;
  }
}

__global__ void mark_k(const int64_t* sorted_idx, int64_t k, uint8_t* mask) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < k; i += (int64_t)gridDim.x * blockDim.x)
    mask[sorted_idx[i]] = 1;
}

// Score of every grid position: block sum of |g|; stored positions get key 0 so they
// sort after every empty one (whose keys have the top bit set).
// Random mode (g null): key = 31 random bits with the top bit set.
__global__ void grid_keys_k(const float* g, int64_t rows, int64_t cols, int bs, int64_t gc, int64_t total,
                            bool noisy, uint64_t seed, uint32_t* keys, int64_t* idx) {
  for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < total; p += (int64_t)gridDim.x * blockDim.x) {
    idx[p] = p;
    if (!g) {
      keys[p] = (uint32_t)(hash_key(seed, p) >> 33) | 0x80000000u;
      continue;
    }
    const int64_t R = p / gc, C = p % gc;
    float s = 0.f;
    for (int64_t i = R * bs; i < min(rows, (R + 1) * bs); ++i)
      for (int64_t j = C * bs; j < min(cols, (C + 1) * bs); ++j) s += fabsf(g[i * cols + j]);
    keys[p] = order_key(noisy ? s + tie_noise(seed, p) : s);
  }
}

// Stored positions that stay (kept by `keep`, or all when it is null) get key 0.
__global__ void clear_stored_k(const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t gr,
                               int64_t gc, uint32_t* keys) {
  const int64_t R = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (R >= gr) return;
  for (int64_t e = row_ptr[R]; e < row_ptr[R + 1]; ++e)
    if (!keep || keep[e]) keys[R * gc + col_idx[e]] = 0;
}

size_t sort_pairs_bytes(int64_t n) {
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, bytes, (const uint32_t*)nullptr,
                                                              (uint32_t*)nullptr, (const int64_t*)nullptr,
                                                              (int64_t*)nullptr, (int)n));
  size_t asc = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, asc, (const uint32_t*)nullptr, (uint32_t*)nullptr,
                                                    (const int64_t*)nullptr, (int64_t*)nullptr, (int)n));
  return std::max(bytes, asc);
}

__global__ void row_of_k(const int32_t* row_ptr, int64_t rows, int32_t* row_of, int32_t* iota) {
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e) {
    row_of[e] = (int32_t)r;
    iota[e] = (int32_t)e;
  }
}

__global__ void column_starts_k(const int32_t* sorted_cols, int64_t nnz, int64_t cols, int32_t* t_row_ptr) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c > cols) return;
  int64_t lo = 0, hi = nnz;  // first entry with column >= c
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (sorted_cols[mid] < c) lo = mid + 1;
    else hi = mid;
  }
  t_row_ptr[c] = (int32_t)lo;
}

__global__ void gather_rows_k(const int32_t* row_of, const int32_t* perm, int64_t nnz, int32_t* t_col_idx) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nnz; i += (int64_t)gridDim.x * blockDim.x)
    t_col_idx[i] = row_of[perm[i]];
}

}  // namespace

size_t transpose_structure_workspace(int64_t nnz) {
  cub_items(nnz, "transpose_structure");
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, (const int32_t*)nullptr, (int32_t*)nullptr,
                                                    (const int32_t*)nullptr, (int32_t*)nullptr, (int)nnz));
  return align_up(bytes) + 3 * align_up((size_t)nnz * sizeof(int32_t));
}

void transpose_structure(const int32_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols, int64_t nnz,
                         int32_t* t_row_ptr, int32_t* t_col_idx, int32_t* t_perm, void* ws, size_t ws_bytes,
                         cudaStream_t s) {
  if (nnz == 0) {
    SPROUT_CUDA_CHECK(cudaMemsetAsync(t_row_ptr, 0, (size_t)(cols + 1) * sizeof(int32_t), s));
    return;
  }
  Carve c{static_cast<char*>(ws)};
  int32_t* row_of = c.take<int32_t>((size_t)nnz);
  int32_t* iota = c.take<int32_t>((size_t)nnz);
  int32_t* sorted_cols = c.take<int32_t>((size_t)nnz);
  if (rows > 0) {
    row_of_k<<<blocks_for(rows, kThreads), kThreads, 0, s>>>(row_ptr, rows, row_of, iota);
    SPROUT_CUDA_LAUNCH_CHECK();
  }
  size_t temp = ws_bytes - c.used;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(c.base + c.used, temp, col_idx, sorted_cols, iota, t_perm,
                                                    (int)nnz, 0, 32, s));
  column_starts_k<<<blocks_for(cols + 1, kThreads), kThreads, 0, s>>>(sorted_cols, nnz, cols, t_row_ptr);
  SPROUT_CUDA_LAUNCH_CHECK();
  gather_rows_k<<<blocks_for(nnz, kThreads), kThreads, 0, s>>>(row_of, t_perm, nnz, t_col_idx);
  SPROUT_CUDA_LAUNCH_CHECK();
}

size_t sort_grow_workspace(int64_t n) {
  cub_items(n, "sort_grow");
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, (const int64_t*)nullptr, (int64_t*)nullptr,
                                                    (const int64_t*)nullptr, (int64_t*)nullptr, (int)n));
  return align_up(bytes) + 2 * align_up((size_t)n * sizeof(int64_t));
}

void sort_grow(int64_t* pos, int64_t* order, int64_t n, void* ws, size_t ws_bytes, cudaStream_t s) {
  if (n == 0) return;
  iota_k<<<blocks_for(n, kThreads), kThreads, 0, s>>>(order, n);
  SPROUT_CUDA_LAUNCH_CHECK();
  Carve c{static_cast<char*>(ws)};
  int64_t* pos_out = c.take<int64_t>((size_t)n);
  int64_t* order_out = c.take<int64_t>((size_t)n);
  size_t temp = ws_bytes - c.used;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(static_cast<char*>(ws) + c.used, temp, pos, pos_out, order,
                                                    order_out, (int)n, 0, 64, s));
  SPROUT_CUDA_CHECK(cudaMemcpyAsync(pos, pos_out, (size_t)n * sizeof(int64_t), cudaMemcpyDeviceToDevice, s));
  SPROUT_CUDA_CHECK(cudaMemcpyAsync(order, order_out, (size_t)n * sizeof(int64_t), cudaMemcpyDeviceToDevice, s));
}

size_t topology_count_workspace(int64_t rows) {
  cub_items(rows, "topology_count");
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, bytes, (const int32_t*)nullptr, (int32_t*)nullptr, (int)rows));
  return align_up(bytes) + align_up((size_t)rows * sizeof(int32_t));
}

void topology_count(const int32_t* row_ptr, int64_t rows, int64_t cols, const uint8_t* keep, const int64_t* grow,
                    int64_t n_grow, int32_t* new_row_ptr, void* ws, size_t ws_bytes, cudaStream_t s) {
  SPROUT_CUDA_CHECK(cudaMemsetAsync(new_row_ptr, 0, sizeof(int32_t), s));
  if (rows == 0) return;
  Carve c{static_cast<char*>(ws)};
  int32_t* counts = c.take<int32_t>((size_t)rows);
  count_k<<<blocks_for(rows, kThreads), kThreads, 0, s>>>(row_ptr, rows, cols, keep, grow, n_grow, counts);
  SPROUT_CUDA_LAUNCH_CHECK();
  size_t temp = ws_bytes - c.used;
  SPROUT_CUDA_CHECK(cub::DeviceScan::InclusiveSum(static_cast<char*>(ws) + c.used, temp, counts, new_row_ptr + 1,
                                                  (int)rows, s));
}

void topology_merge(const int32_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols, const uint8_t* keep,
                    const int64_t* grow, const int64_t* order, int64_t n_grow, bool revive, int64_t cap,
                    int32_t* new_row_ptr, int32_t* new_col_idx, int64_t* src, unsigned long long* bad,
                    cudaStream_t s) {
  SPROUT_CUDA_CHECK(cudaMemsetAsync(bad, 0xff, sizeof(unsigned long long), s));
  range_check_k<<<1, 1, 0, s>>>(grow, n_grow, rows * cols, bad);
  SPROUT_CUDA_LAUNCH_CHECK();
  if (rows > 0) {
    merge_k<<<blocks_for(rows, kThreads), kThreads, 0, s>>>(row_ptr, col_idx, rows, cols, keep, grow, order, n_grow,
                                                            revive, cap, new_row_ptr, new_col_idx, src, bad);
    SPROUT_CUDA_LAUNCH_CHECK();
    if (cap >= 0) {
      clamp_offsets_k<<<blocks_for(rows + 1, kThreads), kThreads, 0, s>>>(new_row_ptr, rows + 1, cap);
      SPROUT_CUDA_LAUNCH_CHECK();
    }
  }
}

void topology_gather(const float* old_vals, const int64_t* src, int64_t new_nnz, int64_t be,
                     const float* grow_vals, float* out, cudaStream_t s) {
  const int64_t total = new_nnz * be;
  if (total == 0) return;
  gather_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(old_vals, src, total, be, grow_vals, out);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void abs_scores(const float* v, int64_t n, int64_t be, int sign, bool noisy, uint64_t seed, float* out,
                cudaStream_t s) {
  if (n == 0) return;
  abs_scores_k<<<blocks_for(n, kThreads), kThreads, 0, s>>>(v, n, be, sign, noisy, seed, out);
  SPROUT_CUDA_LAUNCH_CHECK();
}

void count_nonnegative(const float* v, int64_t n, unsigned long long* count, cudaStream_t s) {
  SPROUT_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(unsigned long long), s));
  if (n == 0) return;
  count_nonneg_k<<<std::min(blocks_for(n, kThreads), 1024), kThreads, 0, s>>>(v, n, count);
  SPROUT_CUDA_LAUNCH_CHECK();
}

size_t topk_workspace(int64_t n) {
  cub_items(n, "topk");
  return align_up(sort_pairs_bytes(n)) + 2 * align_up((size_t)n * sizeof(uint32_t)) +
         2 * align_up((size_t)n * sizeof(int64_t));
}

// Sorts (key, index) pairs, largest keys first when `largest`; returns the sorted indices.
static int64_t* sort_keys(uint32_t* keys, int64_t* idx, int64_t n, bool largest, Carve& c, size_t ws_bytes,
                          cudaStream_t s) {
  uint32_t* keys_out = c.take<uint32_t>((size_t)n);
  int64_t* idx_out = c.take<int64_t>((size_t)n);
  size_t temp = ws_bytes - c.used;
  void* t = c.base + c.used;
  if (largest)
    SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(t, temp, keys, keys_out, idx, idx_out, (int)n, 0, 32, s));
  else
    SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(t, temp, keys, keys_out, idx, idx_out, (int)n, 0, 32, s));
  return idx_out;
}

void topk_mask(const float* scores, int64_t n, int64_t k, bool largest, uint8_t* mask, void* ws, size_t ws_bytes,
               cudaStream_t s) {
  SPROUT_CUDA_CHECK(cudaMemsetAsync(mask, 0, (size_t)n, s));
  if (n == 0 || k == 0) return;
  Carve c{static_cast<char*>(ws)};
  uint32_t* keys = c.take<uint32_t>((size_t)n);
  int64_t* idx = c.take<int64_t>((size_t)n);
  keys_k<<<blocks_for(n, kThreads), kThreads, 0, s>>>(scores, n, keys, idx);
  SPROUT_CUDA_LAUNCH_CHECK();
  int64_t* sorted = sort_keys(keys, idx, n, largest, c, ws_bytes, s);
  mark_k<<<blocks_for(k, kThreads), kThreads, 0, s>>>(sorted, k, mask);
  SPROUT_CUDA_LAUNCH_CHECK();
}

size_t topk_empty_workspace(int64_t positions) {
  cub_items(positions, "topk_empty");
  size_t final_sort = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, final_sort, (const int64_t*)nullptr, (int64_t*)nullptr,
                                                   (int)positions));
  return topk_workspace(positions) + align_up(final_sort) + align_up((size_t)positions * sizeof(int64_t));
}

void topk_empty(const float* g, int64_t rows, int64_t cols, int block, const int32_t* row_ptr,
                const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy, uint64_t seed, int64_t* out,
                void* ws, size_t ws_bytes, cudaStream_t s) {
  if (k == 0) return;
  const int64_t gr = (rows + block - 1) / block, gc = (cols + block - 1) / block, total = gr * gc;
  Carve c{static_cast<char*>(ws)};
  uint32_t* keys = c.take<uint32_t>((size_t)total);
  int64_t* idx = c.take<int64_t>((size_t)total);
  int64_t* picked = c.take<int64_t>((size_t)k);
  grid_keys_k<<<blocks_for(total, kThreads), kThreads, 0, s>>>(g, rows, cols, block, gc, total, noisy, seed, keys,
                                                               idx);
  SPROUT_CUDA_LAUNCH_CHECK();
  clear_stored_k<<<blocks_for(gr, kThreads), kThreads, 0, s>>>(row_ptr, col_idx, keep, gr, gc, keys);
  SPROUT_CUDA_LAUNCH_CHECK();
  int64_t* sorted = sort_keys(keys, idx, total, true, c, ws_bytes, s);
  SPROUT_CUDA_CHECK(cudaMemcpyAsync(picked, sorted, (size_t)k * sizeof(int64_t), cudaMemcpyDeviceToDevice, s));
  // The k picks ascending, reusing the space after the pair sort.
  size_t temp = ws_bytes - c.used;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(c.base + c.used, temp, picked, out, (int)k, 0, 64, s));
}

void random_empty(int64_t grid_rows, int64_t grid_cols, const int32_t* row_ptr, const int32_t* col_idx,
                  const uint8_t* keep, int64_t k, uint64_t seed, int64_t* out, void* ws, size_t ws_bytes,
                  cudaStream_t s) {
  topk_empty(nullptr, grid_rows, grid_cols, 1, row_ptr, col_idx, keep, k, false, seed, out, ws, ws_bytes, s);
}

}  // namespace sprout::kernels::cuda
