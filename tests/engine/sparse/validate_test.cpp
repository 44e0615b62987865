// The check at every door a sparse structure comes in by (engine/sparse/validate.h):
// each kind of broken CSR/BSR parameter is rejected with an error naming where it came
// from, row pointers are bounded before any column is read, and the debug-build check
// after a topology edit.
#include "engine/sparse/validate.h"

#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/ops/topology.h"
#include "testing.h"

namespace sprout {
namespace {

// [[1 0 2], [0 0 0], [0 3 0]] as a parameter.
sparse::SparseParameter small() {
  return sparse::make_parameter(sparse::CsrMatrix::from_dense(Tensor::from_vector<float>({1, 0, 2, 0, 0, 0, 0, 3, 0}, {3, 3})));
}

// An 8 x 12 BSR parameter in 4 x 4 blocks: 2 x 3 grid, blocks (0,1), (1,0), (1,2).
sparse::SparseParameter small_bsr() {
  sparse::SparseParameter p;
  p.rows = 8;
  p.cols = 12;
  p.block = 4;
  p.dense_shape = {8, 12};
  p.row_ptr = Tensor::from_vector<int32_t>({0, 1, 3}, {3});
  p.col_idx = Tensor::from_vector<int32_t>({1, 0, 2}, {3});
  p.values = Tensor::zeros({3 * 16}, DType::F32);
  return p;
}

void expect_rejected(const sparse::SparseParameter& p, const std::string& needle) {
  try {
    sparse::validate(p, "layer 'x'");
    ADD_FAILURE() << "validate() accepted a bad parameter (" << needle << ")";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("layer 'x': ", 0), 0u) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(SparseValidate, AcceptsWellFormedParameters) {
  EXPECT_NO_THROW(sparse::validate(small(), "small"));
  EXPECT_NO_THROW(sparse::validate(small_bsr(), "small_bsr"));
  Rng rng(3);
  EXPECT_NO_THROW(sparse::validate(sparse::make_parameter(sparse::CsrMatrix::random(0, 7, 0, rng)), "empty"));
}

TEST(SparseValidate, BoundsRowPointersBeforeReadingAnyColumn) {
  sparse::SparseParameter p = small();
  // Far past nnz in the middle, back to nnz at the end: row 0 must not read 10^6 columns.
  p.row_ptr = Tensor::from_vector<int32_t>({0, 1000000, 3, 3}, {4});
  expect_rejected(p, "row_ptr[1] is 1000000, past the 3 column indices");
  p.row_ptr = Tensor::from_vector<int32_t>({0, 2, 1, 3}, {4});
  expect_rejected(p, "decreases at row 1");
  p.row_ptr = Tensor::from_vector<int32_t>({0, -5, 2, 3}, {4});
  expect_rejected(p, "row_ptr[1] is -5");
}

TEST(SparseValidate, RejectsBadCsrStructures) {
  sparse::SparseParameter p = small();
  p.col_idx = Tensor::from_vector<int32_t>({0, 2, -1}, {3});
  expect_rejected(p, "row 2 has column -1 outside [0, 3)");
  p.col_idx = Tensor::from_vector<int32_t>({0, 0, 1}, {3});
  expect_rejected(p, "row 0 repeats column 0");
  p.col_idx = Tensor::from_vector<int32_t>({2, 0, 1}, {3});
  expect_rejected(p, "row 0 has unsorted columns");
  p = small();
  p.row_ptr = Tensor::from_vector<int32_t>({0, 2, 2, 2}, {4});
  expect_rejected(p, "row_ptr ends at 2");
  p = small();
  p.values = Tensor::from_vector<float>({1, 2}, {2});
  expect_rejected(p, "2 values for 3 entries");
}

TEST(SparseValidate, RejectsBadBlockStructures) {
  sparse::SparseParameter p = small_bsr();
  p.col_idx = Tensor::from_vector<int32_t>({3, 0, 2}, {3});
  expect_rejected(p, "row 0 has column 3 outside [0, 3)");
  p = small_bsr();
  p.values = Tensor::zeros({3 * 9}, DType::F32);
  expect_rejected(p, "27 values for 3 blocks of 4x4");
  p = small_bsr();
  p.block = 2;  // a 4 x 6 grid: row_ptr no longer fits
  expect_rejected(p, "row_ptr has 3 entries for 4 rows");
  for (int block : {0, 33, -4}) {
    p.block = block;
    expect_rejected(p, "block size " + std::to_string(block));
  }
}

TEST(SparseValidate, RejectsBadShapesAndTypes) {
  sparse::SparseParameter p = small();
  p.dense_shape = {3, 2};
  expect_rejected(p, "dense shape [3, 2] does not hold a 3 x 3 matrix");
  p = small();
  p.rows = -1;
  expect_rejected(p, "does not fit int32 indices");
  p = small();
  p.cols = 1ll << 40;
  expect_rejected(p, "does not fit int32 indices");
  p = small();
  p.values = Tensor::from_vector<int32_t>({1, 2, 3}, {3});
  expect_rejected(p, "values are I32");
  p = small();
  p.col_idx = Tensor::from_vector<int32_t>({0, 2, 1}, {3, 1});
  expect_rejected(p, "col_idx has shape [3, 1]");
  p = small();
  p.col_idx = Tensor::from_vector<int64_t>({0, 2, 1}, {3});
  expect_rejected(p, "col_idx I64");
  p = small();
  p.col_idx = Tensor::from_vector<int32_t>(std::vector<int32_t>(10, 0), {10});
  expect_rejected(p, "10 column indices do not fit a 3 x 3 grid");
}

TEST(SparseValidate, TheParameterCheckIsTheSame) {
  sparse::SparseParameter p = small();
  p.col_idx = Tensor::from_vector<int32_t>({0, 2, 3}, {3});
  EXPECT_THROW(sparse::validate(p), Error);
}

TEST(SparseValidate, DebugBuildsCheckEveryTopologyEdit) {
  sparse::SparseParameter p = small();
  EXPECT_EQ(ops::edit_topology(p, {}, {1, 0, 1}, {4}), 3);  // through debug_validate
  EXPECT_NO_THROW(sparse::validate(p, "edited"));
  p.col_idx = Tensor::from_vector<int32_t>({0, 1, 3}, {3});  // column 3 of 3
#ifdef NDEBUG
  EXPECT_NO_THROW(sparse::debug_validate(p, "edit"));  // release builds skip the read-back
#else
  EXPECT_THROW(sparse::debug_validate(p, "edit"), Error);
#endif
}

}  // namespace
}  // namespace sprout
