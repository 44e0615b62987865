// The transposed structure of a sparse matrix (its CSC view as a CSR of the
// transpose, plus perm: where each entry's value sits in the original values). The
// A^T products read it; it is cached per structure so it is rebuilt only after a
// topology edit replaces the structure tensors.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/tensor.h"

namespace sprout::sparse {

struct TransposedStructure {
  Tensor row_ptr;  // int32 [grid_cols + 1]
  Tensor col_idx;  // int32 [nnz]: the original (block) row of each entry
  Tensor perm;     // int32 [nnz]: the entry's index in the original order
};

// A stable sort by column (rows stay sorted within a column): a counting sort on the
// CPU, a CUB radix sort on the GPU; the result lives on the input's device in `cat`.
TransposedStructure transpose_structure(const Tensor& row_ptr, const Tensor& col_idx,
                                        int64_t grid_rows, int64_t grid_cols,
                                        MemCategory cat = MemCategory::Indices);

// How many transposed structures this process has built (a statistic for tests and
// profiles: a backward pass should build at most one per layer).
int64_t transposes_built();

// Which layers keep their transposed structure between steps (2 more int32 per entry,
// counted under "indices") instead of rebuilding it at each use in O(nnz) as transient
// workspace. Auto (the default): linear layers keep it, since their products have only
// the batch as columns and a rebuild costs a visible share of their step (an MLP's
// Fashion-MNIST epoch, 10-20%); convolutions (N H W columns) rebuild it, so their index
// memory stays one int32 per entry.
enum class KeepTransposes { Auto, All, None };
void set_keep_transposes(KeepTransposes keep);
KeepTransposes keep_transposes();
// "auto", "all", "none" -> the mode (an error naming the value otherwise).
KeepTransposes keep_transposes_from(const std::string& name);
// Whether a layer of this kind keeps its transposed structure under the current mode.
bool keeps_transpose(bool linear_layer);

// The transposed structure of (row_ptr, col_idx): with `keep`, cached while those
// tensors live; else built now in the Workspace category.
std::shared_ptr<const TransposedStructure> cached_transpose(const Tensor& row_ptr, const Tensor& col_idx,
                                                            int64_t grid_rows, int64_t grid_cols, bool keep);

// out[e * block_elems + t] = values[perm[e] * block_elems + t], on the host (setup and
// tests), returned on values' device.
Tensor gather_values(const Tensor& values, const Tensor& perm, int64_t block_elems);

}  // namespace sprout::sparse
