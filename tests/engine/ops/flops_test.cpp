// FLOP accounting of the weight layers' ops (engine/core/flops.h) against counts worked
// by hand from the shapes: forward, input gradient and weight gradient, sparse (2 nnz
// per column) beside the dense layer's (2 rows cols per column), and the regrowth hook's
// dense gradient counted as extra weight-gradient work.
#include "engine/core/flops.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/conv.h"
#include "engine/ops/gemm.h"
#include "engine/ops/im2col.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/sparse_conv.h"
#include "engine/ops/spmm.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

// Runs f (a forward pass and its backward) and returns what it counted.
template <class F>
FlopCount counted(F&& f) {
  const FlopCount before = flops_counted();
  f();
  return flops_counted() - before;
}

void expect_passes(const FlopCount& c, double fwd, double dx, double dw, double dense_fwd, double dense_dx,
                   double dense_dw) {
  EXPECT_EQ(c.done[0], fwd);
  EXPECT_EQ(c.done[1], dx);
  EXPECT_EQ(c.done[2], dw);
  EXPECT_EQ(c.dense[0], dense_fwd);
  EXPECT_EQ(c.dense[1], dense_dx);
  EXPECT_EQ(c.dense[2], dense_dw);
}

TEST(Flops, DenseLinearAndConvCountEachPass) {
  Tensor x = randn({3, 5}, 1, DType::F32), w = randn({4, 5}, 2, DType::F32);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  FlopCount c = counted([&] { ops::sum(ops::linear(x, w, Tensor())).backward(); });
  expect_passes(c, 120, 120, 120, 120, 120, 120);  // 2 * 3 * 5 * 4
  Tensor xi = randn({2, 3, 8, 8}, 3, DType::F32), wi = randn({4, 3, 3, 3}, 4, DType::F32);
  wi.set_requires_grad(true);  // no input gradient asked for: none counted
  c = counted([&] { ops::sum(ops::conv2d(xi, wi, Tensor(), 1, 1)).backward(); });
  expect_passes(c, 27648, 0, 27648, 27648, 0, 27648);  // 2 * N2 * 8x8 * O4 * 3*3*3
}

TEST(Flops, SparseLayersCountStoredEntriesBesideTheDenseLayer) {
  nn::Linear dense(10, 6, true);
  auto s = nn::SparseLinear::from_dense(dense, mask_tensor(edge_mask("fc", 6, 10, 0.3, 5)));
  const double nnz = (double)s->weight.nnz();
  ASSERT_GT(nnz, 0);
  ASSERT_LT(nnz, 60);
  Tensor x = randn({7, 10}, 6, DType::F32);
  x.set_requires_grad(true);
  FlopCount c = counted([&] { ops::sum(ops::sparse_linear(x, s->weight, s->bias)).backward(); });
  expect_passes(c, 2 * 7 * nnz, 2 * 7 * nnz, 2 * 7 * nnz, 840, 840, 840);
  // A regrowth step's dense gradient is weight-gradient work with no dense twin.
  s->weight.dense_grad_hook = [](const Tensor&) {};
  c = counted([&] { ops::sum(ops::sparse_linear(x, s->weight, s->bias)).backward(); });
  expect_passes(c, 2 * 7 * nnz, 2 * 7 * nnz, 2 * 7 * nnz + 840, 840, 840, 840);
}

TEST(Flops, SparseConvCountsOutputPixelsTimesStoredEntries) {
  for (int64_t k : {1, 3}) {
    SCOPED_TRACE("kernel " + std::to_string(k));
    nn::Conv2d dense(4, 6, k, 1, k / 2, false);
    auto s = nn::SparseConv2d::from_dense(dense, mask_tensor(edge_mask("conv", 6, 4 * k * k, 0.3, 7)), 1);
    const double nnz = (double)s->weight.nnz(), columns = 2.0 * 9 * 7;  // N * Hout * Wout
    Tensor x = randn({2, 4, 9, 7}, 8, DType::F32);
    x.set_requires_grad(true);
    const size_t saved = ops::conv_workspace_bytes();
    ops::set_conv_workspace_bytes(4000);  // chunks of one image count once per pass all the same
    FlopCount c = counted([&] { ops::sum(ops::sparse_conv2d(x, s->weight, Tensor(), k, 1, k / 2)).backward(); });
    ops::set_conv_workspace_bytes(saved);
    const double d = 2.0 * 6 * 4 * k * k * columns;
    expect_passes(c, 2 * nnz * columns, 2 * nnz * columns, 2 * nnz * columns, d, d, d);
  }
}

}  // namespace
}  // namespace sprout
