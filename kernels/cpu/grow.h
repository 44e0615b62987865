// Gradient-based growth without the dense gradient, on the CPU. The weight gradient of
// a linear layer is dW = G X^T with G = gt [rows, n] (output gradient, transposed) and
// X = xt [cols, n] (input, transposed). Exact growth forms dW a row tile at a time into
// a caller-owned workspace and keeps a running top-k of the open positions' scores, so
// memory is O(tile + k) and the decisions are those of topk_empty on the whole dW.
// Sampled growth scores c x k random open positions by their dot products, O(c k n).
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// The open grid positions' scores (sum of |dW| over a block, plus tie noise when
// `noisy`) are ranked over `tile_rows`-row tiles (a multiple of block) of dW, each
// formed in `ws` ([tile_rows, cols]); the k best (larger score, then lower position)
// are written ascending to out. keep may be null (keep every stored entry).
template <class T>
void grow_exact_tiled(const T* gt, const T* xt, int64_t rows, int64_t cols, int64_t n, int block,
                      const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                      uint64_t seed, int64_t tile_rows, T* ws, int64_t* out);

// `candidates` distinct open grid positions drawn from `sample_seed` (all of them when
// that is at least the open count), each scored exactly as above from its dot products;
// the k best written ascending to out. Returns the number of candidates scored.
template <class T>
int64_t grow_sampled(const T* gt, const T* xt, int64_t rows, int64_t cols, int64_t n, int block,
                     const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                     uint64_t seed, int64_t candidates, uint64_t sample_seed, int64_t* out);

}  // namespace sprout::kernels::cpu
