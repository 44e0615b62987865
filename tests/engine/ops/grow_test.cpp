// Growth from the gradient's factors: exact tiled growth picks exactly what ranking the
// whole dense gradient picks (CSR and BSR, with drops, with and without tie noise, up
// to 2000 x 2000), within its workspace budget; sampled growth picks open positions and
// becomes exact growth as its candidates grow.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "engine/core/allocator.h"
#include "engine/ops/gemm.h"
#include "engine/ops/grow.h"
#include "engine/ops/topology.h"
#include "engine/sparse/matrix.h"
#include "testing.h"

namespace sprout::ops {
namespace {

struct Case {
  int64_t rows, cols, n;
  int block;
  double density;
  int64_t k;
};

struct Layer {
  sparse::SparseParameter p;
  Tensor gt, xt, keep;
  int64_t kept = 0;
};

Layer make_layer(const Case& c, uint64_t seed) {
  Rng rng(seed);
  Layer l;
  const int64_t gr = (c.rows + c.block - 1) / c.block, gc = (c.cols + c.block - 1) / c.block;
  const int64_t nnzb = (int64_t)(c.density * (double)(gr * gc));
  l.p = c.block == 1 ? sparse::make_parameter(sparse::CsrMatrix::random(c.rows, c.cols, nnzb, rng))
                     : sparse::make_parameter(sparse::BsrMatrix::random(c.rows, c.cols, c.block, nnzb, rng));
  l.gt = testing::randn({c.rows, c.n}, seed + 1, DType::F32);
  l.xt = testing::randn({c.cols, c.n}, seed + 2, DType::F32);
  std::vector<uint8_t> keep((size_t)nnzb);
  for (auto& v : keep) { v = rng.uniform() < 0.7; l.kept += v; }
  l.keep = Tensor::from_vector<uint8_t>(keep, {nnzb});
  return l;
}

std::vector<int64_t> full_growth(const Layer& l, int64_t k, std::optional<uint64_t> tie) {
  Tensor dense = Tensor::empty({l.p.rows, l.p.cols}, DType::F32, Device::cpu());
  gemm_into(false, true, l.gt, l.xt, dense);
  return topk_empty_positions(l.p, dense, k, l.keep, l.kept, tie).to_vector<int64_t>();
}

TEST(Grow, TiledEqualsFullGrowth) {
  const std::vector<Case> cases = {{37, 53, 5, 1, 0.2, 40},     {2000, 2000, 16, 1, 0.05, 60000},
                                   {301, 157, 9, 4, 0.3, 150},  {1000, 700, 8, 8, 0.1, 900},
                                   {1, 900, 3, 1, 0.5, 10},     {513, 1, 4, 1, 0.5, 100}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.rows << "x" << c.cols << " block " << c.block);
    const Layer l = make_layer(c, (uint64_t)(c.rows * 7 + c.cols));
    const int64_t row_bytes = c.cols * 4;
    for (int64_t budget : {row_bytes, row_bytes * 7 * c.block, int64_t(1) << 30})
      for (std::optional<uint64_t> tie : {std::optional<uint64_t>(), std::optional<uint64_t>(42)}) {
        EXPECT_EQ(grow_exact_tiled(l.p, l.gt, l.xt, c.k, l.keep, l.kept, tie, budget).to_vector<int64_t>(),
                  full_growth(l, c.k, tie));
      }
  }
}

TEST(Grow, ZeroGradientTiesGoToTheLowerPosition) {
  Layer l = make_layer({40, 30, 4, 1, 0.3, 0}, 3);
  l.gt = Tensor::zeros({40, 4}, DType::F32, Device::cpu());
  std::vector<int64_t> got = grow_exact_tiled(l.p, l.gt, l.xt, 25, l.keep, l.kept, std::nullopt, 30 * 4 * 3)
                                 .to_vector<int64_t>();
  EXPECT_EQ(got, full_growth(l, 25, std::nullopt));
  EXPECT_LT(got.back(), 60);  // the first open positions of the first rows
}

TEST(Grow, PeakWorkspaceStaysWithinTheBudget) {
  const Layer l = make_layer({2000, 2000, 16, 1, 0.05, 0}, 9);
  const int64_t budget = 1 << 20, k = 5000;  // the dense gradient would be 16 MB
  const int64_t before = Allocator::stats(DeviceType::CPU).cur(MemCategory::Workspace);
  Allocator::reset_peaks(DeviceType::CPU);
  Tensor got = grow_exact_tiled(l.p, l.gt, l.xt, k, l.keep, l.kept, 7, budget);
  const int64_t peak = Allocator::stats(DeviceType::CPU).pk(MemCategory::Workspace) - before;
  EXPECT_LE(peak, budget + k * 8);
  EXPECT_GE(peak, budget / 2);  // it did use a tile of about the budget
  EXPECT_EQ(grow_tile_rows(l.p, budget, 4), 131);
}

TEST(Grow, SampledPicksOpenPositionsAndBecomesExactAsCandidatesGrow) {
  const Layer l = make_layer({300, 400, 12, 1, 0.1, 0}, 21);
  const int64_t k = 300;
  const std::vector<int64_t> exact = full_growth(l, k, 5);
  std::set<int64_t> stored_kept;
  auto rp = l.p.row_ptr.to_vector<int32_t>();
  auto ci = l.p.col_idx.to_vector<int32_t>();
  auto keep = l.keep.to_vector<uint8_t>();
  for (int64_t r = 0; r < 300; ++r)
    for (int32_t e = rp[(size_t)r]; e < rp[(size_t)r + 1]; ++e)
      if (keep[(size_t)e]) stored_kept.insert(r * 400 + ci[(size_t)e]);
  std::vector<double> overlap;
  for (int64_t c : {1, 4, 16, 64, 400}) {
    std::vector<int64_t> got =
        grow_sampled(l.p, l.gt, l.xt, k, l.keep, l.kept, 5, c, 77, int64_t(1) << 20).to_vector<int64_t>();
    ASSERT_EQ((int64_t)got.size(), k);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end());
    for (int64_t p : got) EXPECT_EQ(stored_kept.count(p), 0u) << p;
    std::vector<int64_t> both;
    std::set_intersection(got.begin(), got.end(), exact.begin(), exact.end(), std::back_inserter(both));
    overlap.push_back((double)both.size() / (double)k);
  }
  for (size_t i = 1; i < overlap.size(); ++i) EXPECT_GT(overlap[i], overlap[i - 1]) << i;
  EXPECT_LT(overlap[0], 0.1);
  EXPECT_EQ(overlap.back(), 1.0);  // c k covers the open positions: exact growth
}

TEST(Grow, GrowByGradientUsesTheDenseGradientWhenGiven) {
  const Layer l = make_layer({50, 60, 6, 1, 0.2, 0}, 4);
  Tensor dense = Tensor::empty({50, 60}, DType::F32, Device::cpu());
  gemm_into(false, true, l.gt, l.xt, dense);
  GrowConfig cfg;
  cfg.sampled = true;
  cfg.candidates = 1;
  EXPECT_EQ(grow_by_gradient(l.p, {Tensor(), Tensor(), dense}, 80, l.keep, l.kept, 3, cfg).to_vector<int64_t>(),
            full_growth(l, 80, 3));
}

TEST(Grow, BadFactorsAreErrors) {
  const Layer l = make_layer({20, 30, 4, 1, 0.2, 0}, 5);
  EXPECT_THROW(grow_exact_tiled(l.p, l.xt, l.gt, 3, l.keep, l.kept, 1, 1 << 20), Error);
  EXPECT_THROW(grow_exact_tiled(l.p, l.gt, l.xt, 1 << 20, l.keep, l.kept, 1, 1 << 20), Error);
  EXPECT_THROW(grow_sampled(l.p, l.gt, l.xt, 3, l.keep, l.kept, 1, 0, 1, 1 << 20), Error);
}

}  // namespace
}  // namespace sprout::ops
