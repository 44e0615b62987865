// GPU gradient growth (float32). Exact: each row tile of dW = G X^T is one cuBLAS call,
// its open positions get order-preserving keys behind the k best so far, and CUB's
// stable descending radix sort keeps the first k: earlier (lower) positions come first,
// so ties go to the lower position as on the CPU. Sampled: the CPU's rounds of draws,
// each sorted and de-duplicated on the device, then one thread scores a candidate.
#include <algorithm>
#include <climits>
#include <stdexcept>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>

#include "kernels/cuda/carve.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/grow.h"
#include "kernels/cuda/order_key.cuh"
#include "kernels/tie_noise.h"

namespace sprout::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kClosed = LLONG_MAX;  // a drawn position that is not open: sorts last



size_t sort_pairs_desc_bytes(int64_t n) {
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, bytes, (const uint32_t*)nullptr,
                                                              (uint32_t*)nullptr, (const int64_t*)nullptr,
                                                              (int64_t*)nullptr, cub_items(n, "grow")));
  return bytes;
}
size_t sort_keys_bytes(int64_t n) {
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, (const int64_t*)nullptr, (int64_t*)nullptr,
                                                   cub_items(n, "grow")));
  return bytes;
}
size_t unique_bytes(int64_t n) {
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceSelect::Unique(nullptr, bytes, (const int64_t*)nullptr, (int64_t*)nullptr,
                                              (int64_t*)nullptr, cub_items(n, "grow_sampled")));
  return bytes;
}

__device__ bool is_open_dev(const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t R,
                            int64_t C) {
  int64_t lo = row_ptr[R], hi = row_ptr[R + 1];
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (col_idx[mid] < C) lo = mid + 1;
    else hi = mid;
  }
  if (lo == row_ptr[R + 1] || col_idx[lo] != C) return true;
  return keep && !keep[lo];
}

// Keys of the tile's grid positions (block rows R0 ...), T of them.
__global__ void tile_keys_k(const float* tile, int64_t rows, int64_t cols, int bs, int64_t gc, int64_t R0,
                            int64_t T, bool noisy, uint64_t seed, uint32_t* keys, int64_t* idx) {
  for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < T; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t R = R0 + q / gc, C = q % gc, p = R * gc + C;
    float s = 0.f;
    for (int64_t i = R * bs; i < min(rows, (R + 1) * bs); ++i)
      for (int64_t j = C * bs; j < min(cols, (C + 1) * bs); ++j) s += fabsf(tile[(i - R0 * bs) * cols + j]);
    keys[q] = order_key(noisy ? s + tie_noise(seed, p) : s);
    idx[q] = p;
  }
}

// Stored positions that stay get key 0: they sort after every open one.
__global__ void tile_clear_stored_k(const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep,
                                    int64_t R0, int64_t R1, int64_t gc, uint32_t* keys) {
  const int64_t R = R0 + blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (R >= R1) return;
  for (int64_t e = row_ptr[R]; e < row_ptr[R + 1]; ++e)
    if (!keep || keep[e]) keys[(R - R0) * gc + col_idx[e]] = 0;
}

// Draws [first, first + want) of the sample stream; closed draws become kClosed.
__global__ void draw_k(uint64_t sample_seed, int64_t first, int64_t want, int64_t total, int64_t gc,
                       const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t* out) {
  for (int64_t d = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; d < want; d += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = (int64_t)__umul64hi(hash_key(sample_seed, first + d), (uint64_t)total);
    out[d] = is_open_dev(row_ptr, col_idx, keep, p / gc, p % gc) ? p : kClosed;
  }
}

// *valid = distinct open candidates among the first *selected (the sentinel, if any, is last).
__global__ void count_valid_k(const int64_t* cand, const int64_t* selected, int64_t* valid) {
  const int64_t m = *selected;
  *valid = m - (m > 0 && cand[m - 1] == kClosed ? 1 : 0);
}

// Each candidate's score: the block sum of |dot(g_i, x_j)| over the batch, with the
// CPU's rounding (separate multiply and add, in order).
__global__ void sampled_keys_k(const float* gt, const float* xt, int64_t rows, int64_t cols, int64_t n, int bs,
                               int64_t gc, const int64_t* cand, int64_t m, bool noisy, uint64_t seed,
                               uint32_t* keys, int64_t* idx) {
  for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < m; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = cand[q], R = p / gc, C = p % gc;
    float s = 0.f;
    for (int64_t i = R * bs; i < min(rows, (R + 1) * bs); ++i)
      for (int64_t j = C * bs; j < min(cols, (C + 1) * bs); ++j) {
        const float* g = gt + i * n;
        const float* x = xt + j * n;
        float dot = 0.f;
        for (int64_t t = 0; t < n; ++t) dot = __fadd_rn(dot, __fmul_rn(g[t], x[t]));
        s = __fadd_rn(s, fabsf(dot));
      }
    keys[q] = order_key(noisy ? s + tie_noise(seed, p) : s);
    idx[q] = p;
  }
}

// The first k of (keys, idx)[0, m) by key, descending and stable, into (keys, idx)[0, k).
void keep_best(uint32_t* keys, int64_t* idx, int64_t m, int64_t k, uint32_t* keys_out, int64_t* idx_out,
               void* temp, size_t temp_bytes, cudaStream_t s) {
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(temp, temp_bytes, keys, keys_out, idx, idx_out,
                                                              cub_items(m, "grow"), 0, 32, s));
  SPROUT_CUDA_CHECK(cudaMemcpyAsync(keys, keys_out, (size_t)k * sizeof(uint32_t), cudaMemcpyDeviceToDevice, s));
  SPROUT_CUDA_CHECK(cudaMemcpyAsync(idx, idx_out, (size_t)k * sizeof(int64_t), cudaMemcpyDeviceToDevice, s));
}

}  // namespace

size_t grow_exact_tiled_workspace(int64_t k, int64_t tile_rows, int64_t cols, int block) {
  const int64_t gc = (cols + block - 1) / block, T = (tile_rows + block - 1) / block * gc, m = k + T;
  return align_up((size_t)tile_rows * cols * sizeof(float)) + 2 * align_up((size_t)m * sizeof(uint32_t)) +
         2 * align_up((size_t)m * sizeof(int64_t)) + align_up(std::max(sort_pairs_desc_bytes(m), sort_keys_bytes(k)));
}

void grow_exact_tiled(const float* gt, const float* xt, int64_t rows, int64_t cols, int64_t n, int block,
                      const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                      uint64_t seed, int64_t tile_rows, int64_t* out, void* ws, size_t ws_bytes, cudaStream_t s) {
  if (k == 0) return;
  const int64_t b = block, gr = (rows + b - 1) / b, gc = (cols + b - 1) / b;
  const int64_t tgr = std::max<int64_t>(1, tile_rows / b), Tmax = tgr * gc;
  Carve c{static_cast<char*>(ws)};
  float* tile = c.take<float>((size_t)(tgr * b) * cols);
  uint32_t* keys = c.take<uint32_t>((size_t)(k + Tmax));
  int64_t* idx = c.take<int64_t>((size_t)(k + Tmax));
  uint32_t* keys_out = c.take<uint32_t>((size_t)(k + Tmax));
  int64_t* idx_out = c.take<int64_t>((size_t)(k + Tmax));
  if (c.used > ws_bytes) throw std::invalid_argument("grow_exact_tiled: workspace too small");
  void* temp = c.base + c.used;
  size_t temp_bytes = ws_bytes - c.used;
  // The running best starts as k placeholders with key 0: every open position beats them.
  SPROUT_CUDA_CHECK(cudaMemsetAsync(keys, 0, (size_t)k * sizeof(uint32_t), s));
  SPROUT_CUDA_CHECK(cudaMemsetAsync(idx, 0xff, (size_t)k * sizeof(int64_t), s));
  for (int64_t R0 = 0; R0 < gr; R0 += tgr) {
    const int64_t R1 = std::min(gr, R0 + tgr), r0 = R0 * b, m = std::min(rows, R1 * b) - r0, T = (R1 - R0) * gc;
    gemm(false, true, m, cols, n, 1.f, gt + r0 * n, n, xt, n, 0.f, tile, cols, s);
    SPROUT_LAUNCH_1D(tile_keys_k, T, kThreads, s, tile, rows, cols, block, gc, R0, T, noisy, seed, keys + k, idx + k);
    SPROUT_LAUNCH_1D(tile_clear_stored_k, R1 - R0, kThreads, s, row_ptr, col_idx, keep, R0, R1, gc, keys + k);
    keep_best(keys, idx, k + T, k, keys_out, idx_out, temp, temp_bytes, s);
  }
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp, temp_bytes, idx, out,
                                                   cub_items(k, "grow"), 0, 64, s));
}

size_t grow_sampled_workspace(int64_t candidates) {
  const int64_t m = candidates;
  return 2 * align_up((size_t)m * sizeof(int64_t)) + 2 * align_up((size_t)m * sizeof(uint32_t)) +
         2 * align_up((size_t)m * sizeof(int64_t)) + 2 * align_up(sizeof(int64_t)) +
         align_up(std::max({sort_keys_bytes(m), unique_bytes(m), sort_pairs_desc_bytes(m)}));
}

int64_t grow_sampled(const float* gt, const float* xt, int64_t rows, int64_t cols, int64_t n, int block,
                     const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                     uint64_t seed, int64_t candidates, uint64_t sample_seed, int64_t* out, void* ws,
                     size_t ws_bytes, cudaStream_t s) {
  if (k == 0) return 0;
  const int64_t b = block, gc = (cols + b - 1) / b, total = (rows + b - 1) / b * gc;
  Carve c{static_cast<char*>(ws)};
  int64_t* cand = c.take<int64_t>((size_t)candidates);
  int64_t* sorted = c.take<int64_t>((size_t)candidates);
  uint32_t* keys = c.take<uint32_t>((size_t)candidates);
  uint32_t* keys_out = c.take<uint32_t>((size_t)candidates);
  int64_t* idx = c.take<int64_t>((size_t)candidates);
  int64_t* idx_out = c.take<int64_t>((size_t)candidates);
  int64_t* selected = c.take<int64_t>(1);
  int64_t* valid = c.take<int64_t>(1);
  if (c.used > ws_bytes) throw std::invalid_argument("grow_sampled: workspace too small");
  void* temp = c.base + c.used;
  size_t temp_bytes = ws_bytes - c.used;
  // Rounds as on the CPU: draw what is missing, keep the distinct open ones, until
  // `candidates` are in hand (the caller asks for fewer than half the open positions).
  int64_t had = 0, drawn = 0;
  while (had < candidates) {
    const int64_t want = candidates - had, m = had + want;
    SPROUT_LAUNCH_1D(draw_k, want, kThreads, s, sample_seed, drawn, want, total, gc, row_ptr, col_idx, keep,
                     cand + had);
    drawn += want;
    size_t tb = temp_bytes;
    SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp, tb, cand, sorted, cub_items(m, "grow_sampled"), 0, 64, s));
    tb = temp_bytes;
    SPROUT_CUDA_CHECK(cub::DeviceSelect::Unique(temp, tb, sorted, cand, selected, cub_items(m, "grow_sampled"), s));
    count_valid_k<<<1, 1, 0, s>>>(cand, selected, valid);
    SPROUT_CUDA_LAUNCH_CHECK();
    SPROUT_CUDA_CHECK(cudaMemcpyAsync(&had, valid, sizeof(int64_t), cudaMemcpyDeviceToHost, s));
    SPROUT_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  SPROUT_LAUNCH_1D(sampled_keys_k, had, kThreads, s, gt, xt, rows, cols, n, block, gc, cand, had, noisy, seed, keys,
                   idx);
  // Candidates ascend, so the stable sort breaks equal keys toward the lower position.
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(temp, temp_bytes, keys, keys_out, idx, idx_out,
                                                              cub_items(had, "grow_sampled"), 0, 32, s));
  temp_bytes = ws_bytes - c.used;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp, temp_bytes, idx_out, out, cub_items(k, "grow_sampled"), 0,
                                                   64, s));
  return had;
}

}  // namespace sprout::kernels::cuda
