// CsrMatrix / BsrMatrix: conversions, random structure at an exact nnz, transposes,
// and validate() rejecting every kind of broken structure.
#include "engine/sparse/transpose.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

TEST(SparseMatrix, CsrRoundTripsThroughDense) {
  for (const MaskCase& m : mask_cases()) {
    Tensor w = randn({m.rows, m.cols}, 3, DType::F64);
    Tensor masked = Tensor::empty(w.shape(), DType::F64);
    for (int64_t i = 0; i < w.numel(); ++i) masked.data<double>()[i] = m.mask[(size_t)i] ? w.data<double>()[i] : 0.0;
    sparse::CsrMatrix a = sparse::CsrMatrix::from_dense(w, mask_tensor(m));
    a.validate();
    int64_t expect = 0;
    for (uint8_t v : m.mask) expect += v;
    EXPECT_EQ(a.nnz(), expect) << m.name;
    EXPECT_EQ(rel_error(a.to_dense(), masked), 0.0) << m.name;
    EXPECT_EQ(rel_error(sparse::CsrMatrix::from_dense(masked).to_dense(), masked), 0.0) << m.name;
  }
}

TEST(SparseMatrix, BsrRoundTripsThroughDenseWithRaggedEdges) {
  for (int block : {4, 8}) {
    Tensor w = randn({13, 21}, 4, DType::F64);
    MaskCase m = edge_mask("bsr", 13, 21, 0.05, 9);
    sparse::BsrMatrix b = sparse::BsrMatrix::from_dense(w, mask_tensor(m), block);
    b.validate();
    Tensor d = b.to_dense();
    // Every stored block equals w there; everything else is zero.
    sparse::BsrMatrix again = sparse::BsrMatrix::from_dense(d, block);
    EXPECT_EQ(rel_error(again.to_dense(), d), 0.0);
    EXPECT_LE(again.nnz_blocks(), b.nnz_blocks());
  }
}

TEST(SparseMatrix, RandomHasExactNnzAndValidStructure) {
  Rng rng(7);
  sparse::CsrMatrix a = sparse::CsrMatrix::random(50, 40, 333, rng);
  a.validate();
  EXPECT_EQ(a.nnz(), 333);
  sparse::CsrMatrix b = sparse::CsrMatrix::random_per_row(30, 20, 7, rng, DType::F64);
  b.validate();
  auto rp = b.row_ptr.to_vector<int32_t>();
  for (int64_t r = 0; r < 30; ++r) EXPECT_EQ(rp[(size_t)r + 1] - rp[(size_t)r], 7);
  sparse::CsrMatrix full = sparse::CsrMatrix::random(5, 6, 30, rng);
  full.validate();
  EXPECT_EQ(full.nnz(), 30);
  sparse::BsrMatrix c = sparse::BsrMatrix::random(30, 18, 4, 11, rng);
  c.validate();
  EXPECT_EQ(c.nnz_blocks(), 11);
  EXPECT_EQ(c.values.numel(), 11 * 16);
}

TEST(SparseMatrix, TransposedMatchesDenseTranspose) {
  Rng rng(8);
  sparse::CsrMatrix a = sparse::CsrMatrix::random(17, 23, 60, rng, DType::F64);
  sparse::CsrMatrix t = a.transposed();
  t.validate();
  Tensor d = a.to_dense(), dt = t.to_dense();
  for (int64_t i = 0; i < 17; ++i)
    for (int64_t j = 0; j < 23; ++j) EXPECT_EQ(d.data<double>()[i * 23 + j], dt.data<double>()[j * 17 + i]);
  sparse::BsrMatrix b = sparse::BsrMatrix::random(12, 20, 4, 6, rng, DType::F64);
  sparse::BsrMatrix bt = b.transposed();
  bt.validate();
  Tensor e = b.to_dense(), et = bt.to_dense();
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t j = 0; j < 20; ++j) EXPECT_EQ(e.data<double>()[i * 20 + j], et.data<double>()[j * 12 + i]);
}

TEST(SparseMatrix, TransposedStructureOnCudaMatchesCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  Rng rng(9);
  for (int64_t nnz : {0, 1, 77, 400}) {
    sparse::CsrMatrix a = sparse::CsrMatrix::random(20, 25, nnz, rng);
    sparse::TransposedStructure cpu = sparse::transpose_structure(a.row_ptr, a.col_idx, 20, 25);
    sparse::CsrMatrix g = a.to(Device::cuda());
    sparse::TransposedStructure gpu = sparse::transpose_structure(g.row_ptr, g.col_idx, 20, 25);
    EXPECT_EQ(gpu.row_ptr.to_vector<int32_t>(), cpu.row_ptr.to_vector<int32_t>());
    EXPECT_EQ(gpu.col_idx.to_vector<int32_t>(), cpu.col_idx.to_vector<int32_t>());
    EXPECT_EQ(gpu.perm.to_vector<int32_t>(), cpu.perm.to_vector<int32_t>());
  }
}

TEST(SparseMatrix, TransposedStructureListsEachColumnsRowsInOrder) {
  // Against a column-by-column scan of the rows: every column's rows ascending, each
  // with the slot of its value.
  Rng rng(4);
  for (int64_t nnz : {int64_t(300), int64_t(90000)}) {
    const int64_t rows = 700, cols = 900;
    sparse::CsrMatrix a = sparse::CsrMatrix::random(rows, cols, nnz, rng);
    sparse::TransposedStructure t = sparse::transpose_structure(a.row_ptr, a.col_idx, rows, cols);
    const auto rp = a.row_ptr.to_vector<int32_t>(), ci = a.col_idx.to_vector<int32_t>();
    std::vector<int32_t> want_ptr{0}, want_rows, want_perm;
    for (int64_t k = 0; k < cols; ++k) {
      for (int64_t i = 0; i < rows; ++i)
        for (int32_t e = rp[(size_t)i]; e < rp[(size_t)i + 1]; ++e)
          if (ci[(size_t)e] == k) { want_rows.push_back((int32_t)i); want_perm.push_back(e); }
      want_ptr.push_back((int32_t)want_rows.size());
    }
    EXPECT_EQ(t.row_ptr.to_vector<int32_t>(), want_ptr);
    EXPECT_EQ(t.col_idx.to_vector<int32_t>(), want_rows);
    EXPECT_EQ(t.perm.to_vector<int32_t>(), want_perm);
  }
}

TEST(SparseMatrix, SampleDistinctIsSortedAndExact) {
  Rng rng(1);
  for (int64_t k : {0, 1, 5, 50, 99, 100}) {
    auto v = sparse::sample_distinct(100, k, rng);
    ASSERT_EQ((int64_t)v.size(), k);
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
  }
}

sparse::CsrMatrix small() {
  // [[1 0 2], [0 0 0], [0 3 0]]
  sparse::CsrMatrix a;
  a.rows = 3;
  a.cols = 3;
  a.row_ptr = Tensor::from_vector<int32_t>({0, 2, 2, 3}, {4});
  a.col_idx = Tensor::from_vector<int32_t>({0, 2, 1}, {3});
  a.values = Tensor::from_vector<float>({1, 2, 3}, {3});
  return a;
}

void expect_rejected(const sparse::CsrMatrix& a, const std::string& needle) {
  try {
    a.validate();
    ADD_FAILURE() << "validate() accepted a bad structure (" << needle << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SparseMatrix, ValidateRejectsBadStructures) {
  small().validate();
  sparse::CsrMatrix a = small();
  a.row_ptr = Tensor::from_vector<int32_t>({0, 2, 1, 3}, {4});
  expect_rejected(a, "decreases at row 1");
  a = small();
  a.col_idx = Tensor::from_vector<int32_t>({2, 0, 1}, {3});
  expect_rejected(a, "row 0 has unsorted");
  a = small();
  a.col_idx = Tensor::from_vector<int32_t>({0, 0, 1}, {3});
  expect_rejected(a, "row 0 repeats column 0");
  a = small();
  a.col_idx = Tensor::from_vector<int32_t>({0, 2, 3}, {3});
  expect_rejected(a, "row 2 has column 3 outside");
  a = small();
  a.col_idx = Tensor::from_vector<int32_t>({0, 2, -1}, {3});
  expect_rejected(a, "row 2 has column -1");
  a = small();
  a.row_ptr = Tensor::from_vector<int32_t>({0, 2, 2, 2}, {4});
  expect_rejected(a, "row_ptr ends at 2");
  a = small();
  a.row_ptr = Tensor::from_vector<int32_t>({1, 2, 2, 3}, {4});
  expect_rejected(a, "row_ptr[0] is 1");
  a = small();
  a.row_ptr = Tensor::from_vector<int32_t>({0, 2, 3}, {3});
  expect_rejected(a, "row_ptr has 3 entries");
  a = small();
  a.values = Tensor::from_vector<float>({1, 2}, {2});
  expect_rejected(a, "2 values for 3 entries");
  sparse::BsrMatrix b = sparse::BsrMatrix::from_dense(randn({8, 8}, 1, DType::F32), 4);
  b.validate();
  b.col_idx = Tensor::from_vector<int32_t>({0, 1, 1, 0}, {4});
  EXPECT_THROW(b.validate(), Error);
}

TEST(SparseMatrix, ParameterViewsShareTensors) {
  Rng rng(2);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(10, 12, 30, rng), {10, 3, 2, 2});
  sparse::validate(p);
  EXPECT_EQ(p.nnz(), 30);
  EXPECT_TRUE(p.values.requires_grad());
  EXPECT_EQ(p.values.category(), MemCategory::Weights);
  EXPECT_EQ(p.col_idx.category(), MemCategory::Indices);
  EXPECT_EQ(sparse::csr_view(p).values.raw_data(), p.values.raw_data());
  EXPECT_THROW(sparse::make_parameter(sparse::CsrMatrix::random(10, 12, 30, rng), {10, 13}), Error);
}

}  // namespace
}  // namespace sprout
