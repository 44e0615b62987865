// The dense route of sparse layers (engine/ops/densify.*): the moves between a sparse
// weight and its dense copy against the matrices' own to_dense, on every device; the
// routed layers bit for bit equal to the dense ops on that copy, with gradients read
// back at the stored entries; FLOPs counted as the sparse route counts them.
#include "engine/core/flops.h"
#include "engine/ops/conv.h"
#include "engine/ops/densify.h"
#include "engine/ops/gemm.h"
#include "engine/ops/sparse_conv.h"
#include "engine/ops/spmm.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

// Sets the threshold for one scope.
struct DenseAbove {
  double old = ops::dense_compute_above();
  explicit DenseAbove(double d) { ops::set_dense_compute_above(d); }
  ~DenseAbove() { ops::set_dense_compute_above(old); }
};

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  Tensor x = a.to(Device::cpu()), y = b.to(Device::cpu());
  return x.numel() == y.numel() && x.dtype() == y.dtype() && std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

class DenseRoute : public ::testing::TestWithParam<Device> {};

// The dense copy equals to_dense (CSR, BSR with and without overhang), and reading it
// back at the entries gives the values, BSR overhang included (0).
TEST_P(DenseRoute, CopyMatchesToDenseAndReadsBackTheValues) {
  const Device dev = GetParam();
  SPROUT_SKIP_IF_NO_DEVICE(dev);
  for (const MaskCase& m : mask_cases())
    for (int block : {1, 3, 4})
      for (DType dt : {DType::F32, DType::F64}) {
        if (dev.is_cuda() && dt != DType::F32) continue;
        SCOPED_TRACE(m.name + " block " + std::to_string(block) + " " + dtype_name(dt));
        Tensor ref;
        sparse::SparseParameter p = make_param(m, block, dt, 3, &ref);
        p.to(dev);
        Tensor d = ops::detail::dense_copy(p, p.values);
        EXPECT_EQ(d.category(), MemCategory::Workspace);
        EXPECT_TRUE(bitwise_equal(d, ref));
        EXPECT_TRUE(bitwise_equal(ops::detail::values_at_entries(p, d, p.values), p.values));
        // Any dense matrix read back: its entries at the stored positions.
        Tensor r = randn({m.rows, m.cols}, 4, dt);
        Tensor g = ops::detail::values_at_entries(p, r.to(dev), p.values);
        EXPECT_EQ(rel_error(scatter_dense(p, g), mask_like(p, r)), 0.0);  // mask_like writes -0
      }
}

// A routed linear layer: y, dx and db bit for bit the dense linear's with the copy; the
// values' gradient its dense gradient at the entries; the hook sees that dense gradient.
TEST_P(DenseRoute, LinearEqualsTheDenseLinearOnItsCopy) {
  const Device dev = GetParam();
  SPROUT_SKIP_IF_NO_DEVICE(dev);
  DenseAbove all(0.0);
  for (int block : {1, 4}) {
    Tensor w0;
    sparse::SparseParameter p = make_param(edge_mask("lin", 11, 17, 0.4, 5), block, DType::F32, 6, &w0);
    p.to(dev);
    ASSERT_TRUE(ops::computes_dense(p));
    Tensor x = randn({7, 17}, 7, DType::F32, dev), b = randn({11}, 8, DType::F32, dev);
    Tensor gy = randn({7, 11}, 9, DType::F32, dev);
    Tensor xs = x.clone(), bs = b.clone();
    xs.set_requires_grad(true);
    bs.set_requires_grad(true);
    Tensor seen;
    p.dense_grad_hook = [&](const Tensor& g) { seen = g.to(Device::cpu()); };
    Tensor y = ops::sparse_linear(xs, p, bs);
    y.backward(gy);
    Tensor xd = x.clone(), wd = w0.to(dev), bd = b.clone();
    for (Tensor* t : {&xd, &wd, &bd}) t->set_requires_grad(true);
    Tensor yd = ops::linear(xd, wd, bd);
    yd.backward(gy);
    EXPECT_TRUE(bitwise_equal(y, yd));
    EXPECT_TRUE(bitwise_equal(xs.grad(), xd.grad()));
    EXPECT_TRUE(bitwise_equal(bs.grad(), bd.grad()));
    EXPECT_EQ(rel_error(scatter_dense(p, p.values.grad()), mask_like(p, wd.grad())), 0.0);
    ASSERT_TRUE(seen.defined());
    EXPECT_TRUE(bitwise_equal(seen, wd.grad()));
  }
}

// A routed convolution (1x1, strided 1x1, 3x3 padded and strided, 7x7): bit for bit
// the dense convolution on the copy, the values' gradient its weight gradient at the
// entries, and the hook's dense gradient.
TEST_P(DenseRoute, ConvEqualsTheDenseConvOnItsCopy) {
  const Device dev = GetParam();
  SPROUT_SKIP_IF_NO_DEVICE(dev);
  DenseAbove all(0.0);
  struct G { int64_t cin, cout, k, stride, pad; };
  for (G c : {G{5, 7, 1, 1, 0}, G{5, 7, 1, 2, 0}, G{4, 6, 3, 2, 1}, G{3, 8, 3, 1, 1}, G{3, 5, 7, 2, 3}}) {
    SCOPED_TRACE("k" + std::to_string(c.k) + " s" + std::to_string(c.stride));
    const int64_t K = c.cin * c.k * c.k;
    Tensor w0;
    sparse::SparseParameter p = make_param(edge_mask("conv", c.cout, K, 0.4, 10), 1, DType::F32, 11, &w0);
    p.dense_shape = {c.cout, c.cin, c.k, c.k};
    p.to(dev);
    Tensor x = randn({3, c.cin, 9, 11}, 12, DType::F32, dev);
    Tensor xs = x.clone();
    xs.set_requires_grad(true);
    Tensor seen;
    p.dense_grad_hook = [&](const Tensor& g) { seen = g.to(Device::cpu()); };
    Tensor y = ops::sparse_conv2d(xs, p, Tensor(), c.k, c.stride, c.pad);
    Tensor gy = randn(y.shape(), 13, DType::F32, dev);
    y.backward(gy);
    Tensor xd = x.clone(), wd = w0.to(dev).view({c.cout, c.cin, c.k, c.k}).clone();
    xd.set_requires_grad(true);
    wd.set_requires_grad(true);
    Tensor yd = ops::conv2d(xd, wd, Tensor(), c.stride, c.pad);
    yd.backward(gy);
    EXPECT_TRUE(bitwise_equal(y, yd));
    EXPECT_TRUE(bitwise_equal(xs.grad(), xd.grad()));
    Tensor dw = wd.grad().view({c.cout, K});
    EXPECT_EQ(rel_error(scatter_dense(p, p.values.grad()), mask_like(p, dw)), 0.0);
    ASSERT_TRUE(seen.defined());
    EXPECT_TRUE(bitwise_equal(seen, dw));
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, DenseRoute, ::testing::ValuesIn(devices_under_test()), device_param_name);

// Runs a forward and backward pass of f and returns what it counted.
template <class F>
FlopCount counted(F&& f) {
  const FlopCount before = flops_counted();
  f();
  return flops_counted() - before;
}

// The route changes what runs, not what the accounting reports: both routes count the
// same FLOPs in every pass, the hook's dense gradient included.
TEST(DenseRoute, CountsTheSparseRoutesFlops) {
  sparse::SparseParameter p = make_param(edge_mask("conv", 6, 4 * 9, 0.5, 20), 1, DType::F32, 21, nullptr);
  p.dense_shape = {6, 4, 3, 3};
  Tensor x = randn({2, 4, 8, 8}, 22, DType::F32);
  x.set_requires_grad(true);
  p.dense_grad_hook = [](const Tensor&) {};
  auto conv = [&] { ops::sparse_conv2d(x, p, Tensor(), 3, 1, 1).backward(randn({2, 6, 8, 8}, 23, DType::F32)); };
  auto linear = [&] {
    Tensor xl = randn({5, 36}, 24, DType::F32);
    xl.set_requires_grad(true);
    ops::sparse_linear(xl, p, Tensor()).backward(randn({5, 6}, 25, DType::F32));
  };
  FlopCount sparse_conv, dense_conv, sparse_lin, dense_lin;
  {
    DenseAbove none(1.0);
    ASSERT_FALSE(ops::computes_dense(p));
    sparse_conv = counted(conv);
    sparse_lin = counted(linear);
  }
  {
    DenseAbove all(0.0);
    ASSERT_TRUE(ops::computes_dense(p));
    dense_conv = counted(conv);
    dense_lin = counted(linear);
  }
  for (int i = 0; i < kFlopPasses; ++i) {
    EXPECT_GT(sparse_conv.done[i], 0.0);
    EXPECT_EQ(dense_conv.done[i], sparse_conv.done[i]);
    EXPECT_EQ(dense_conv.dense[i], sparse_conv.dense[i]);
    EXPECT_EQ(dense_lin.done[i], sparse_lin.done[i]);
    EXPECT_EQ(dense_lin.dense[i], sparse_lin.dense[i]);
  }
}

// A hook that wants the gradient's factors keeps the layer on the sparse route; the
// threshold is checked.
TEST(DenseRoute, FactorsHookKeepsTheSparseRouteAndThresholdIsChecked) {
  DenseAbove all(0.0);
  sparse::SparseParameter p = make_param(edge_mask("f", 4, 5, 0.5, 30), 1, DType::F32, 31, nullptr);
  EXPECT_TRUE(ops::computes_dense(p));
  p.grad_factors_hook = [](const sparse::GradFactors&) {};
  EXPECT_FALSE(ops::computes_dense(p));
  EXPECT_THROW(ops::set_dense_compute_above(1.5), Error);
  EXPECT_THROW(ops::set_dense_compute_above(-0.1), Error);
  EXPECT_EQ(ops::dense_compute_above(), 0.0);
}

}  // namespace
}  // namespace sprout
