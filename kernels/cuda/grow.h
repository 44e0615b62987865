// Gradient growth on the GPU (float32), twins of kernels/cpu/grow.h: exact growth over
// row tiles of dW = G X^T (cuBLAS) with a running top-k kept as the k best (key,
// position) pairs of a stable radix sort, and sampled growth scoring c x k drawn open
// positions by their exact gradient. Both pick the same positions as the CPU kernels.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

// Bytes of workspace grow_exact_tiled needs for tiles of tile_rows rows.
size_t grow_exact_tiled_workspace(int64_t k, int64_t tile_rows, int64_t cols, int block);
// out [k] ascending: the k open positions with the largest block sums of |gt xt^T|
// (gt [rows, n], xt [cols, n]), tie noise from seed when noisy.
void grow_exact_tiled(const float* gt, const float* xt, int64_t rows, int64_t cols, int64_t n, int block,
                      const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                      uint64_t seed, int64_t tile_rows, int64_t* out, void* ws, size_t ws_bytes, cudaStream_t s);

size_t grow_sampled_workspace(int64_t candidates);
// out [k] ascending: the best k of `candidates` distinct open positions, drawn in rounds
// from sample_seed exactly as the CPU draws them. Waits for one count per round of
// draws (the only host wait of a growth); returns the number of candidates scored.
int64_t grow_sampled(const float* gt, const float* xt, int64_t rows, int64_t cols, int64_t n, int block,
                     const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                     uint64_t seed, int64_t candidates, uint64_t sample_seed, int64_t* out, void* ws,
                     size_t ws_bytes, cudaStream_t s);

}  // namespace sprout::kernels::cuda
