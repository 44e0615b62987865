// The check every sparse structure passes where it comes in from outside (a
// checkpoint, a layer built from a matrix) and, in debug builds, where a topology edit
// hands one back: dimensions, dtypes, the CSR/BSR structure itself and the value count,
// each error naming where the structure came from. Code behind these doors trusts it.
#pragma once
#include <string>

#include "engine/sparse/parameter.h"

namespace sprout::sparse {

// Throws, naming `what` ("checkpoint run/x.safetensors: layer 'fc1.weight'"), unless
// rows and cols fit int32 indices, block is 1 (CSR) or 2..32 (BSR), dense_shape holds a
// rows x cols matrix, row_ptr / col_idx are I32 vectors forming a valid structure on the
// block grid (row_ptr from 0 to nnz, monotone; columns in range, sorted and unique
// within each row), values is an F32/F64 vector of nnz_blocks * block * block, and all
// three are on one device. Reads device tensors back to the host.
void validate(const SparseParameter& p, const std::string& what);

// validate(p, what) in debug builds; nothing in release builds (NDEBUG), where it would
// read every edited structure back from the device.
void debug_validate(const SparseParameter& p, const char* what);

}  // namespace sprout::sparse
