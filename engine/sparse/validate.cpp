// Validation of sparse parameters at the doors they come in by.
#include "engine/sparse/validate.h"

#include <limits>

#include "engine/core/error.h"

namespace sprout::sparse {

namespace {

constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();

void check_vector(const Tensor& t, const char* name, const std::string& what) {
  SPROUT_CHECK(t.defined(), what, ": ", name, " missing");
  SPROUT_CHECK(t.dim() == 1, what, ": ", name, " has shape ", shape_str(t.shape()), ", not a vector");
}

// Sizes alone, before any index is read.
void check_dims(const SparseParameter& p, const std::string& what) {
  SPROUT_CHECK(p.rows >= 0 && p.rows <= kMaxIndex && p.cols >= 0 && p.cols <= kMaxIndex, what, ": a ", p.rows,
               " x ", p.cols, " matrix does not fit int32 indices");
  SPROUT_CHECK(p.block == 1 || (p.block >= 2 && p.block <= 32), what, ": block size ", p.block,
               " is neither 1 (CSR) nor in [2, 32] (BSR)");
  bool any_zero = false, overflow = false;
  int64_t numel = 1;
  for (int64_t d : p.dense_shape) {
    SPROUT_CHECK(d >= 0 && d <= kMaxIndex, what, ": dense shape ", shape_str(p.dense_shape), " has extent ", d);
    any_zero |= d == 0;
    overflow |= __builtin_mul_overflow(numel, d, &numel);
  }
  SPROUT_CHECK(!p.dense_shape.empty() && (any_zero ? 0 : overflow ? -1 : numel) == p.rows * p.cols, what,
               ": dense shape ", shape_str(p.dense_shape), " does not hold a ", p.rows, " x ", p.cols, " matrix");
  check_vector(p.row_ptr, "row_ptr", what);
  check_vector(p.col_idx, "col_idx", what);
  check_vector(p.values, "values", what);
  SPROUT_CHECK(p.row_ptr.dtype() == DType::I32 && p.col_idx.dtype() == DType::I32, what, ": row_ptr is ",
               dtype_name(p.row_ptr.dtype()), " and col_idx ", dtype_name(p.col_idx.dtype()), ", both must be I32");
  SPROUT_CHECK(is_floating(p.values.dtype()), what, ": values are ", dtype_name(p.values.dtype()),
               ", not F32 or F64");
  SPROUT_CHECK(p.row_ptr.device() == p.values.device() && p.col_idx.device() == p.values.device(), what,
               ": structure and values on different devices");
}

}  // namespace

void validate(const SparseParameter& p, const std::string& what) {
  check_dims(p, what);
  const int64_t gr = grid_rows(p), gc = grid_cols(p), nnzb = p.col_idx.numel();
  SPROUT_CHECK(nnzb <= gr * gc, what, ": ", nnzb, " column indices do not fit a ", gr, " x ", gc, " grid");
  validate_structure(p.row_ptr, p.col_idx, gr, gc, what.c_str());
  const int64_t per_entry = (int64_t)p.block * p.block;
  SPROUT_CHECK(p.values.numel() == nnzb * per_entry, what, ": ", p.values.numel(), " values for ", nnzb,
               p.block > 1 ? " blocks of " + std::to_string(p.block) + "x" + std::to_string(p.block) : " entries");
}

void debug_validate(const SparseParameter& p, const char* what) {
#ifndef NDEBUG
  validate(p, what);
#else
  (void)p;
  (void)what;
#endif
}

}  // namespace sprout::sparse
