// Topology-edit kernels on the GPU (float32 values), twins of kernels/cpu/topology.h.
// Sorting and scanning go through CUB with a workspace the engine allocates; every
// function only queues work on the stream.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

size_t sort_grow_workspace(int64_t n);
// Sorts pos ascending with order carried; order is filled with 0..n-1 first.
void sort_grow(int64_t* pos, int64_t* order, int64_t n, void* ws, size_t ws_bytes, cudaStream_t s);

size_t topology_count_workspace(int64_t grid_rows);
void topology_count(const int32_t* row_ptr, int64_t grid_rows, int64_t grid_cols, const uint8_t* keep,
                    const int64_t* grow, int64_t n_grow, int32_t* new_row_ptr, void* ws, size_t ws_bytes,
                    cudaStream_t s);
// Writes to *flag (one device word) ~0, or the first row with a colliding, repeated or
// out-of-range grown position, or (when cap >= 0) whose offsets disagree with cap, the
// count the caller allocated for; then (cap >= 0) clamps new_row_ptr to cap, so that a
// failed edit still indexes inside the arrays.
void topology_merge(const int32_t* row_ptr, const int32_t* col_idx, int64_t grid_rows, int64_t grid_cols,
                    const uint8_t* keep, const int64_t* grow, const int64_t* order, int64_t n_grow, bool revive,
                    int64_t cap, int32_t* new_row_ptr, int32_t* new_col_idx, int64_t* src,
                    unsigned long long* flag, cudaStream_t s);
void topology_gather(const float* old_vals, const int64_t* src, int64_t new_nnz, int64_t be,
                     const float* grow_vals, float* out, cudaStream_t s);

void abs_scores(const float* v, int64_t n, int64_t be, int sign, bool noisy, uint64_t seed, float* out,
                cudaStream_t s);
// *count (one device word) = the number of entries with v >= 0.
void count_nonnegative(const float* v, int64_t n, unsigned long long* count, cudaStream_t s);
size_t topk_workspace(int64_t n);
void topk_mask(const float* scores, int64_t n, int64_t k, bool largest, uint8_t* mask, void* ws,
               size_t ws_bytes, cudaStream_t s);
size_t topk_empty_workspace(int64_t positions);
void topk_empty(const float* g, int64_t rows, int64_t cols, int block, const int32_t* row_ptr,
                const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy, uint64_t seed, int64_t* out,
                void* ws, size_t ws_bytes, cudaStream_t s);
// Workspace: topk_empty_workspace(grid_rows * grid_cols).
void random_empty(int64_t grid_rows, int64_t grid_cols, const int32_t* row_ptr, const int32_t* col_idx,
                  const uint8_t* keep, int64_t k, uint64_t seed, int64_t* out, void* ws, size_t ws_bytes,
                  cudaStream_t s);

// The transposed structure (CSC view) on the device: a stable sort of the entries by
// column keeps rows ascending within each column, so the result equals the CPU's.
size_t transpose_structure_workspace(int64_t nnz);
void transpose_structure(const int32_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols,
                         int64_t nnz, int32_t* t_row_ptr, int32_t* t_col_idx, int32_t* t_perm, void* ws,
                         size_t ws_bytes, cudaStream_t s);

}  // namespace sprout::kernels::cuda
