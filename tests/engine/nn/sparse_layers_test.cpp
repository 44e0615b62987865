// The sparse layers of engine/nn/sparse_layers.*: SparseLinear and SparseConv2d
// structure (exact nnz, BSR block counts) and PyTorch-style init, from_dense against the
// dense layer's weights, and CUDA against CPU. The convolution op: ops/sparse_conv_test.
#include <cmath>

#include "engine/nn/sparse_layers.h"
#include "engine/ops/gemm.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

TEST(SparseLayers, LinearHasExactNnzAndPytorchInit) {
  Rng rng(1);
  nn::SparseLinear l(784, 300, 0.05, true, rng);
  EXPECT_EQ(l.weight.nnz(), std::llround(0.05 * 784 * 300));
  const double bound = 1.0 / std::sqrt(784.0);
  auto v = l.weight.values.to_vector<float>();
  double mx = 0, sum = 0;
  for (float x : v) { mx = std::max(mx, (double)std::fabs(x)); sum += x; }
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.9 * bound);
  EXPECT_NEAR(sum / (double)v.size(), 0.0, 0.05 * bound);
  for (float b : l.bias.to_vector<float>()) EXPECT_LE(std::fabs(b), bound);
  auto params = l.parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].sparse, &l.weight);
  EXPECT_EQ(l.num_parameters(), 784 * 300 + 300);
  Tensor y = l.forward(randn({5, 784}, 2, DType::F32));
  EXPECT_EQ(y.shape(), (Shape{5, 300}));

  nn::SparseLinear b(30, 21, 0.3, false, rng, 8);
  EXPECT_EQ(b.weight.block, 8);
  EXPECT_EQ(b.weight.col_idx.numel(), std::llround(0.3 * 3 * 4));
  EXPECT_FALSE(b.bias.defined());
}

// A density for BSR counts blocks: 0.1 of the grid, each block whole, the kept values
// those of the dense layer.
TEST(SparseLayers, FromDenseAtADensityCountsBlocks) {
  Rng rng(4);
  nn::Linear dense(100, 90);  // 90 x 100: a 23 x 25 grid of 4x4 blocks, the edges partial
  auto s = nn::SparseLinear::from_dense(dense, 0.1, rng, 4);
  EXPECT_EQ(s->weight.block, 4);
  EXPECT_EQ(s->weight.col_idx.numel(), std::llround(0.1 * 23 * 25));
  Tensor d = sparse::bsr_view(s->weight).to_dense();
  auto dv = d.to_vector<float>(), wv = dense.weight.to_vector<float>();
  int64_t kept = 0;
  for (size_t i = 0; i < dv.size(); ++i)
    if (dv[i] != 0.f) {
      EXPECT_EQ(dv[i], wv[i]);
      ++kept;
    }
  EXPECT_GT(kept, 15 * (int64_t)s->weight.col_idx.numel());  // whole blocks (up to edges)
  nn::Conv2d conv(8, 16, 3, 1, 1);
  auto c = nn::SparseConv2d::from_dense(conv, 0.2, rng, 4);
  EXPECT_EQ(c->weight.col_idx.numel(), std::llround(0.2 * 4 * 18));  // 16 x 72 -> 4 x 18 blocks
  EXPECT_DOUBLE_EQ(c->weight.density(), 14.0 * 16 / (16.0 * 72));  // 14 whole blocks
}

TEST(SparseLayers, LinearFromDenseKeepsMaskedWeights) {
  Rng rng(3);
  nn::Linear dense(20, 15);
  MaskCase m = edge_mask("fd", 15, 20, 0.3, 4);
  for (int block : {1, 4}) {
    auto s = nn::SparseLinear::from_dense(dense, mask_tensor(m), block);
    Tensor x = randn({7, 20}, 5, DType::F32);
    Tensor w = block == 1 ? sparse::csr_view(s->weight).to_dense() : sparse::bsr_view(s->weight).to_dense();
    EXPECT_LE(rel_error(s->forward(x), ops::linear(x, w, dense.bias)), 1e-6);
    // Every mask position carries the dense weight.
    auto wd = w.to_vector<float>(), wo = dense.weight.to_vector<float>();
    for (size_t i = 0; i < wd.size(); ++i)
      if (m.mask[i]) {
        EXPECT_EQ(wd[i], wo[i]);
      }
  }
  auto r = nn::SparseLinear::from_dense(dense, 0.25, rng);
  EXPECT_EQ(r->weight.nnz(), 75);
}

TEST(SparseLayers, ConvHasExactNnz) {
  Rng rng(20);
  nn::SparseConv2d c(16, 32, 3, 1, 1, 0.1, false, rng);
  EXPECT_EQ(c.weight.nnz(), std::llround(0.1 * 32 * 16 * 9));
  EXPECT_EQ(c.weight.dense_shape, (Shape{32, 16, 3, 3}));
  EXPECT_EQ(c.forward(randn({2, 16, 6, 6}, 1, DType::F32)).shape(), (Shape{2, 32, 6, 6}));
}

TEST(SparseLayers, LinearMovesToCudaAndMatchesCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  Rng rng(30);
  nn::SparseLinear l(50, 40, 0.2, true, rng);
  Tensor x = randn({9, 50}, 31, DType::F32);
  Tensor y = l.forward(x);
  l.to(Device::cuda());
  EXPECT_TRUE(l.weight.values.is_cuda());
  EXPECT_LE(rel_error(l.forward(x.to(Device::cuda())), y), 1e-5);
}

}  // namespace
}  // namespace sprout
