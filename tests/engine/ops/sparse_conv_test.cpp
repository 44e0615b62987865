// The sparse convolution op of engine/ops/sparse_conv.*: forward and both gradients,
// CSR and BSR, im2col in chunks and the 1x1 path, against ops::conv2d with the masked
// dense weight (and the dense weight gradient a regrowth hook sees), on every device.
#include "engine/nn/conv_layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/conv.h"
#include "engine/ops/im2col.h"
#include "engine/ops/sparse_conv.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

// Sparse convolution against ops::conv2d with the equivalent dense weight; `hook`
// also asks for the dense weight gradient a regrowth method sees.
void compare_conv(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad, int block,
                  size_t budget, Device dev, bool hook = true, Shape in = {5, 0, 9, 7}) {
  SCOPED_TRACE("k" + std::to_string(k) + " s" + std::to_string(stride) + " p" + std::to_string(pad) + " block " +
               std::to_string(block) + " budget " + std::to_string(budget) + " hook " + std::to_string(hook));
  in[1] = cin;
  Rng rng(10);
  nn::Conv2d dense(cin, cout, k, stride, pad, true);
  MaskCase m = edge_mask("conv", cout, cin * k * k, 0.3, 11);
  auto s = nn::SparseConv2d::from_dense(dense, mask_tensor(m), block);
  Tensor w = (block == 1 ? sparse::csr_view(s->weight).to_dense() : sparse::bsr_view(s->weight).to_dense())
                 .view({cout, cin, k, k});
  Tensor x0 = randn(in, 12, DType::F32);
  // Dense reference on the CPU.
  Tensor xr = x0.clone(), wr = w.clone(), br = dense.bias.clone();
  xr.set_requires_grad(true);
  wr.set_requires_grad(true);
  br.set_requires_grad(true);
  Tensor yr = ops::conv2d(xr, wr, br, stride, pad);
  Tensor gy = randn(yr.shape(), 13, DType::F32);
  yr.backward(gy);
  // Sparse on `dev`.
  const size_t saved = ops::conv_workspace_bytes();
  ops::set_conv_workspace_bytes(budget);
  s->to(dev);
  Tensor x = x0.to(dev);
  x.set_requires_grad(true);
  Tensor seen;  // the dense weight gradient a regrowth method would see
  if (hook) s->weight.dense_grad_hook = [&](const Tensor& g) { seen = g.to(Device::cpu()); };
  Tensor y = ops::sparse_conv2d(x, s->weight, s->bias, k, stride, pad);
  y.backward(gy.to(dev));
  ops::set_conv_workspace_bytes(saved);
  EXPECT_LE(rel_error(y, yr), 1e-5);
  EXPECT_LE(rel_error(x.grad(), xr.grad()), 1e-5);
  EXPECT_LE(rel_error(scatter_dense(s->weight, s->weight.values.grad()),
                      mask_like(s->weight, wr.grad().view({cout, cin * k * k}))), 1e-5);
  EXPECT_LE(rel_error(s->bias.grad(), br.grad()), 1e-5);
  if (!hook) return;
  ASSERT_TRUE(seen.defined());
  EXPECT_LE(rel_error(seen, wr.grad().view({cout, cin * k * k})), 1e-5);
}

class SparseConv : public ::testing::TestWithParam<Device> {};

TEST_P(SparseConv, MatchesDenseConvWithMaskedWeight) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  ops::set_sparse_conv_path(ops::SparseConvPath::Unfold);  // the CPU's CSR would skip unfolding
  for (int block : {1, 4}) {
    compare_conv(3, 8, 3, 1, 1, block, size_t(64) << 20, GetParam());
    compare_conv(4, 6, 3, 2, 1, block, 4000, GetParam());  // one image per chunk
    compare_conv(5, 7, 1, 1, 0, block, size_t(64) << 20, GetParam());  // 1x1: no im2col
    compare_conv(5, 7, 1, 2, 0, block, size_t(64) << 20, GetParam());  // strided 1x1
  }
  ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
}

// The unfolding-free path (CPU, CSR) against the dense convolution: paddings, strides
// 1-3 and kernels 2-7 whose phase planes have rows and columns past the output, odd
// sizes, several chunks of images, and the regrowth hook's fallback to unfolding.
TEST(SparseConvImplicit, MatchesDenseConvWithMaskedWeight) {
  ops::set_sparse_conv_path(ops::SparseConvPath::Implicit);
  const Device cpu = Device::cpu();
  const size_t big = size_t(64) << 20;
  compare_conv(3, 8, 3, 1, 1, 1, big, cpu, false);
  compare_conv(4, 6, 3, 2, 1, 1, big, cpu, false);
  compare_conv(4, 6, 3, 2, 1, 1, 4000, cpu, false);  // one image per chunk
  compare_conv(5, 7, 1, 2, 0, 1, big, cpu, false);  // strided 1x1: subsampled, then the 1x1 product
  compare_conv(5, 7, 1, 2, 0, 4, big, cpu, false);
  compare_conv(3, 5, 7, 2, 3, 1, big, cpu, false, {2, 3, 15, 12});
  compare_conv(4, 4, 3, 1, 0, 1, big, cpu, false);
  compare_conv(2, 3, 5, 1, 2, 1, big, cpu, false, {3, 2, 6, 11});
  compare_conv(4, 6, 3, 3, 1, 1, big, cpu, false, {2, 4, 10, 8});
  compare_conv(4, 6, 2, 2, 0, 1, big, cpu, false, {2, 4, 9, 9});
  compare_conv(3, 8, 3, 1, 1, 1, big, cpu, true);  // the hook's step unfolds
  ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
}

// Forced where it cannot run (BSR), the unfolding-free path says why.
TEST(SparseConvImplicit, RefusesBlockSparseWeights) {
  nn::Conv2d dense(4, 8, 3, 1, 1, false);
  auto s = nn::SparseConv2d::from_dense(dense, mask_tensor(edge_mask("conv", 8, 36, 0.3, 17)), 4);
  Tensor x = randn({1, 4, 5, 5}, 18, DType::F32);
  ops::set_sparse_conv_path(ops::SparseConvPath::Implicit);
  try {
    ops::sparse_conv2d(x, s->weight, Tensor(), 3, 1, 1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the unfolding-free path needs a CSR weight on the CPU"), std::string::npos)
        << e.what();
  }
  ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
}

// The unfolding backward pass builds W's transposed (CSC) structure once, however
// many chunks of images it runs: five chunks here, one transpose.
TEST_P(SparseConv, BackwardTransposesOncePerPass) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  nn::Conv2d dense(4, 6, 3, 1, 1, false);
  auto s = nn::SparseConv2d::from_dense(dense, mask_tensor(edge_mask("conv", 6, 36, 0.3, 14)), 1);
  s->to(GetParam());
  Tensor x = randn({5, 4, 9, 7}, 15, DType::F32).to(GetParam());
  x.set_requires_grad(true);
  const size_t saved = ops::conv_workspace_bytes();
  ops::set_conv_workspace_bytes(4000);  // one image per chunk
  ops::set_sparse_conv_path(ops::SparseConvPath::Unfold);
  Tensor y = ops::sparse_conv2d(x, s->weight, Tensor(), 3, 1, 1);
  ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
  const int64_t before = sparse::transposes_built();
  y.backward(randn(y.shape(), 16, DType::F32).to(GetParam()));
  const int64_t chunk = ops::conv_chunk_images(5, (36 + 6) * 9 * 7 * sizeof(float));
  ops::set_conv_workspace_bytes(saved);
  ASSERT_EQ(chunk, 1);
  EXPECT_EQ(sparse::transposes_built() - before, 1);
  EXPECT_TRUE(x.grad().defined());
}

INSTANTIATE_TEST_SUITE_P(Devices, SparseConv, ::testing::ValuesIn(devices_under_test()), device_param_name);

}  // namespace
}  // namespace sprout
