// The fused BatchNorm + (residual add) + ReLU: finite-difference gradients in float64,
// bit-for-bit agreement with the unfused ops in float32 (values, every gradient, the
// running statistics, also with gamma 0 and tiny, and with a max or average pool between
// it and the next conv), a conv after it keeping nothing new (the allocator's activation
// bytes) while its gradients stay the same, and CUDA parity (skipped without a GPU).
// The PyTorch cross-check is in torch_crosscheck_test.
#include "ops_testing.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/saved.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/shape.h"

namespace sprout {
namespace {

using testing::gradcheck;
using testing::randn;
using Inputs = std::vector<Tensor>;

TEST(BnAct, GradcheckRelu) {
  gradcheck([](const Inputs& in) {
    return ops::batch_norm_act2d(in[0], Tensor(), in[1], in[2], Tensor(), Tensor(), true, true);
  }, {randn({3, 2, 3, 2}, 1), randn({2}, 2), randn({2}, 3)});
}

TEST(BnAct, GradcheckResidualRelu) {
  Tensor rm = Tensor::zeros({3}, DType::F64), rv = Tensor::full({3}, 1.0, DType::F64);
  gradcheck([&](const Inputs& in) {
    return ops::batch_norm_act2d(in[0], in[3], in[1], in[2], rm, rv, true, true, 0.1, 1e-3);
  }, {randn({2, 3, 2, 3}, 4), randn({3}, 5), randn({3}, 6), randn({2, 3, 2, 3}, 7)});
}

TEST(BnAct, GradcheckEvalAndNoAffine) {
  Tensor rm = randn({2}, 8), rv = Tensor::full({2}, 0.7, DType::F64);
  gradcheck([&](const Inputs& in) {
    return ops::batch_norm_act2d(in[0], in[3], in[1], in[2], rm, rv, false, true);
  }, {randn({2, 2, 3, 3}, 9), randn({2}, 10), randn({2}, 11), randn({2, 2, 3, 3}, 12)});
  gradcheck([](const Inputs& in) {
    return ops::batch_norm_act2d(in[0], Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), true, true);
  }, {randn({2, 2, 2, 3}, 13)});
}

struct Result {
  Tensor y, dx, dw2, dgamma, dbeta, dres, rm, rv;
};

// conv -> BN (+ residual) -> ReLU [-> pool] -> conv, fused or not, in float32, one backward.
// pool 1: ResNet's stem max pool; 2: the 1x1 average pool a strided 1x1 sparse conv
// subsamples with. After the fused op the pool and the second conv keep nothing new.
Result conv_bn_relu_conv(bool fused, const Tensor& gamma_values, bool residual, int pool = 0) {
  Tensor x = randn({3, 4, 6, 5}, 20, DType::F32), w1 = randn({6, 4, 3, 3}, 21, DType::F32);
  Tensor w2 = randn({5, 6, 1, 1}, 22, DType::F32), r = randn({3, 6, 6, 5}, 23, DType::F32);
  Tensor gamma = gamma_values.clone(), beta = randn({6}, 24, DType::F32);
  for (Tensor* t : {&x, &w1, &w2, &gamma, &beta, &r}) t->set_requires_grad(true);
  Tensor rm = Tensor::zeros({6}), rv = Tensor::full({6}, 1.0);
  Tensor res = residual ? r : Tensor();
  Tensor h = ops::conv2d(x, w1, Tensor(), 1, 1);
  if (fused) {
    h = ops::batch_norm_act2d(h, res, gamma, beta, rm, rv, true, true);
  } else {
    h = ops::batch_norm2d(h, gamma, beta, rm, rv, true);
    h = ops::relu(residual ? ops::add(h, res) : h);
  }
  if (pool == 1) h = ops::max_pool2d(h, 3, 2, 1);
  if (pool == 2) h = ops::avg_pool2d(h, 1, 2, 0);
  if (pool && fused) {
    EXPECT_TRUE(autograd::SavedTensor(h).rebuilt());
  }
  Tensor y = ops::conv2d(h, w2, Tensor(), 1, 0);
  y.backward(randn(y.shape(), 25, DType::F32));
  return {y, x.grad(), w2.grad(), gamma.grad(), beta.grad(), residual ? r.grad() : Tensor(), rm, rv};
}

void expect_identical(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.defined(), b.defined()) << what;
  if (!a.defined()) return;
  ASSERT_EQ(a.numel(), b.numel()) << what;
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>()) << what;
}

TEST(BnAct, FusedEqualsUnfusedBitForBit) {
  // Gamma with an exact 0 and a tiny entry: the fused op never divides by gamma.
  Tensor gamma = Tensor::from_vector<float>({1.3f, 0.f, -0.7f, 1e-20f, 2.f, 0.5f}, {6});
  for (int variant = 0; variant < 4; ++variant) {
    const bool residual = variant == 1;
    const int pool = variant >= 2 ? variant - 1 : 0;
    Result a = conv_bn_relu_conv(false, gamma, residual, pool), b = conv_bn_relu_conv(true, gamma, residual, pool);
    expect_identical(a.y, b.y, "output");
    expect_identical(a.dx, b.dx, "input gradient");
    expect_identical(a.dw2, b.dw2, "gradient of the conv after (its input rebuilt)");
    expect_identical(a.dgamma, b.dgamma, "gamma gradient");
    expect_identical(a.dbeta, b.dbeta, "beta gradient");
    expect_identical(a.dres, b.dres, "residual gradient");
    expect_identical(a.rm, b.rm, "running mean");
    expect_identical(a.rv, b.rv, "running variance");
    // Not vacuous: the gradients are not zero.
    double dx_max = 0;
    for (float v : b.dx.to_vector<float>()) dx_max = std::max(dx_max, (double)std::fabs(v));
    EXPECT_GT(dx_max, 0.0);
    EXPECT_NE(b.dgamma.to_vector<float>()[1], 0.f);  // gamma = 0 still learns
  }
}

// Activation bytes held after the forward of conv -> BN -> ReLU -> conv: the conv's
// output (the BatchNorm's input), the statistics and the result; unfused, also the ReLU
// output the second conv keeps.
int64_t kept_bytes(bool fused) {
  Tensor x = randn({2, 3, 8, 8}, 30, DType::F32), w1 = randn({4, 3, 3, 3}, 31, DType::F32);
  Tensor w2 = randn({5, 4, 1, 1}, 32, DType::F32), gamma = randn({4}, 33, DType::F32);
  Tensor beta = randn({4}, 34, DType::F32);
  for (Tensor* t : {&w1, &w2, &gamma, &beta}) t->set_requires_grad(true);
  const int64_t before = Allocator::stats(DeviceType::CPU).cur(MemCategory::Activations);
  MemoryScope ms(MemCategory::Activations);
  Tensor h = ops::conv2d(x, w1, Tensor(), 1, 1);
  h = fused ? ops::batch_norm_act2d(h, Tensor(), gamma, beta, Tensor(), Tensor(), true, true)
            : ops::relu(ops::batch_norm2d(h, gamma, beta, Tensor(), Tensor(), true));
  Tensor y = ops::conv2d(h, w2, Tensor(), 1, 0);
  h = Tensor();
  return Allocator::stats(DeviceType::CPU).cur(MemCategory::Activations) - before;
}

TEST(BnAct, ConvAfterFusedOpKeepsNothingNew) {
  const int64_t conv_out = 2 * 4 * 8 * 8 * 4, stats = 2 * 4 * 4, result = 2 * 5 * 8 * 8 * 4;
  EXPECT_EQ(kept_bytes(true), conv_out + stats + result);
  EXPECT_EQ(kept_bytes(false), 2 * conv_out + stats + result);
}

TEST(BnAct, SavedTensorRebuildsThroughReshape) {
  Tensor x = randn({2, 3, 2, 2}, 40, DType::F32), gamma = randn({3}, 41, DType::F32);
  gamma.set_requires_grad(true);
  Tensor y = ops::batch_norm_act2d(x, Tensor(), gamma, Tensor(), Tensor(), Tensor(), true, true);
  Tensor r = ops::reshape(y, {2, 12});
  autograd::SavedTensor kept(r), plain(x);
  EXPECT_TRUE(kept.rebuilt());
  EXPECT_FALSE(plain.rebuilt());
  Tensor again = kept.get();
  EXPECT_EQ(again.shape(), (Shape{2, 12}));
  EXPECT_EQ(again.to_vector<float>(), y.to_vector<float>());
}

class BnActCuda : public ::testing::Test {
 protected:
  void SetUp() override { SPROUT_SKIP_IF_NO_DEVICE(Device::cuda()); }
};

TEST_F(BnActCuda, ParityWithCpu) {
  for (bool residual : {false, true}) {
    auto f = [residual](const Inputs& in) {
      Tensor h = ops::batch_norm_act2d(in[0], residual ? in[3] : Tensor(), in[1], in[2], Tensor(), Tensor(),
                                       true, true);
      return ops::conv2d(h, in[4], Tensor(), 1, 0);  // its weight gradient reads the rebuilt output
    };
    Inputs in{randn({3, 5, 7, 9}, 50, DType::F32), randn({5}, 51, DType::F32), randn({5}, 52, DType::F32),
              randn({3, 5, 7, 9}, 53, DType::F32), randn({4, 5, 1, 1}, 54, DType::F32)};
    testing::OpResult cpu = testing::run_op(f, in, Device::cpu()), gpu = testing::run_op(f, in, Device::cuda());
    EXPECT_LE(testing::rel_error(gpu.out, cpu.out), 1e-5);
    for (size_t i = 0; i < in.size(); ++i) {
      if (i == 3 && !residual) continue;
      EXPECT_LE(testing::rel_error(gpu.grads[i], cpu.grads[i]), 1e-5) << "input " << i;
    }
  }
}

}  // namespace
}  // namespace sprout
