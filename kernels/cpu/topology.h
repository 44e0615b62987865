// Topology-edit kernels on the CPU: the counting, merging and gathering steps of a
// drop/grow edit on a block-row structure (CSR when block = 1), and the top-k
// selections sparse-training methods score with. Each is O(nnz) (plus a sort of the
// grown positions) and writes no dense array except where a dense gradient is input.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// Sorts the flat grown positions ascending and carries their original index:
// pos[i], order[i] (order[i] = i on entry) reordered together.
void sort_grow(int64_t* pos, int64_t* order, int64_t n);

// new_row_ptr[r + 1] - new_row_ptr[r] = kept entries of row r + grown positions in
// row r; new_row_ptr[0] = 0. keep may be null (keep all); grow sorted ascending.
void topology_count(const int32_t* row_ptr, int64_t grid_rows, int64_t grid_cols,
                    const uint8_t* keep, const int64_t* grow, int64_t n_grow,
                    int32_t* new_row_ptr);

// Merges each row's survivors with its grown columns (both ascending) into
// new_col_idx, and src[e] = the old entry index, or -1 - order[g] for grown entry g.
// A grown position still stored but dropped by keep is revived when `revive` (src =
// the old entry: value and state kept), else it is a new entry. Returns -1, or the
// first row where a grown position is stored and kept, repeated, or out of range.
int64_t topology_merge(const int32_t* row_ptr, const int32_t* col_idx, int64_t grid_rows,
                       int64_t grid_cols, const uint8_t* keep, const int64_t* grow,
                       const int64_t* order, int64_t n_grow, bool revive, const int32_t* new_row_ptr,
                       int32_t* new_col_idx, int64_t* src);

// out[e * be + t] = old[src[e] * be + t] for survivors; grow_vals[(-1 - src[e]) * be + t]
// (or 0 when grow_vals is null) for new entries.
template <class T>
void topology_gather(const T* old_vals, const int64_t* src, int64_t new_nnz, int64_t be,
                     const T* grow_vals, T* out);

// out[e] = sum_t |v[e * be + t]|, plus tie_noise(seed, e) when `noisy`. With sign +1
// (-1), entries with v < 0 (v >= 0) score +infinity instead (be must be 1).
template <class T>
void abs_scores(const T* v, int64_t n, int64_t be, int sign, bool noisy, uint64_t seed, T* out);

// Number of entries with v >= 0.
template <class T> int64_t count_nonnegative(const T* v, int64_t n);

// mask[i] = 1 for exactly k indices with the largest (smallest) scores, lower index first
// among ties; 0 elsewhere.
template <class T> void topk_mask(const T* scores, int64_t n, int64_t k, bool largest, uint8_t* mask);

// The k open positions of the (block) grid with the largest score, ascending in out.
// Open: not stored, or stored and dropped (keep[e] == 0; keep may be null). score(pos)
// = sum of |g| over the block's elements (g is [rows, cols] row-major), plus
// tie_noise(seed, pos) when `noisy`.
template <class T>
void topk_empty(const T* g, int64_t rows, int64_t cols, int block, const int32_t* row_ptr,
                const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy, uint64_t seed,
                int64_t* out);

// k open positions (as above) drawn uniformly: those with the largest 31-bit key
// hash_key(seed, pos) >> 33, lower position first among equal keys; ascending in out.
void random_empty(int64_t grid_rows, int64_t grid_cols, const int32_t* row_ptr, const int32_t* col_idx,
                  const uint8_t* keep, int64_t k, uint64_t seed, int64_t* out);

}  // namespace sprout::kernels::cpu
