// DyReLU-B: the op's gradients by finite differences (float64) for the input and the
// hyper-network output, float32 against float64, and the module starting as ReLU.
#include <cmath>

#include "engine/nn/dyrelu.h"
#include "engine/nn/init.h"
#include "engine/ops/dyrelu.h"
#include "engine/ops/elementwise.h"
#include "testing.h"

namespace sprout {
namespace {

TEST(DyReluOp, GradcheckFloat64) {
  for (double beta : {1.0, 0.6}) {
    auto f = [beta](const std::vector<Tensor>& in) { return ops::dyrelu(in[0], in[1], beta); };
    testing::gradcheck(f, {testing::randn({3, 4}, 1), testing::randn({3, 16}, 2)});
    testing::gradcheck(f, {testing::randn({2, 3, 2, 2}, 3), testing::randn({2, 12}, 4)});
  }
}

TEST(DyReluOp, HandValuesAndFloat32MatchesFloat64) {
  // theta = 0 gives (a1, a2, b1, b2) = (1, 0, 0, 0): ReLU at any beta.
  Tensor x = Tensor::from_vector<double>({-2, -0.5, 0.5, 3}, {2, 2});
  EXPECT_EQ(ops::dyrelu(x, Tensor::zeros({2, 8}, DType::F64), 1.0).to_vector<double>(),
            (std::vector<double>{0, 0, 0.5, 3}));
  // Large theta saturates 2 sigmoid - 1 at 1: (a1, a2, b1, b2) = (2, 1, 0.5, 0.5) at beta 1,
  // (1.5, 0.5, 0.25, 0.25) at beta 0.5.
  Tensor big = Tensor::full({1, 4}, 40.0, DType::F64);
  Tensor one = Tensor::from_vector<double>({-1}, {1, 1});
  EXPECT_NEAR(ops::dyrelu(one, big, 1.0).item(), std::max(-2 + 0.5, -1 + 0.5), 1e-12);
  EXPECT_NEAR(ops::dyrelu(one, big, 0.5).item(), std::max(-1.5 + 0.25, -0.5 + 0.25), 1e-12);
  Tensor x64 = testing::randn({4, 5, 3, 3}, 5), t64 = testing::randn({4, 20}, 6);
  Tensor y64 = ops::dyrelu(x64, t64, 0.7);
  Tensor y32 = ops::dyrelu(x64.to_dtype(DType::F32), t64.to_dtype(DType::F32), 0.7);
  EXPECT_LT(testing::rel_error(y32.to_dtype(DType::F64), y64), 1e-6);
  EXPECT_THROW(ops::dyrelu(x64, Tensor::zeros({4, 19}, DType::F64), 1.0), Error);
}

TEST(DyReluModule, StartsAsRelu) {
  nn::init_rng().seed_with(7);
  for (Shape s : {Shape{6, 8}, Shape{3, 8, 4, 4}}) {
    nn::DyReLU d(8);
    EXPECT_EQ(d.hidden, 2);
    Tensor x = testing::randn(s, 8, DType::F32);
    EXPECT_EQ(d.forward(x).to_vector<float>(), ops::relu(x).to_vector<float>());
    // Zero FC weights everywhere: still exactly ReLU.
    d.fc1_weight.zero_();
    d.fc1_bias.zero_();
    EXPECT_EQ(d.forward(x).to_vector<float>(), ops::relu(x).to_vector<float>());
    d.beta = 0.0;
    EXPECT_EQ(d.forward(x).to_vector<float>(), ops::relu(x).to_vector<float>());
  }
}

TEST(DyReluModule, HyperNetworkLearns) {
  nn::init_rng().seed_with(8);
  nn::DyReLU d(4);
  Tensor x = testing::randn({5, 4, 2, 2}, 9, DType::F32);
  ops::sum(d.forward(x)).backward();
  // fc2 starts at zero, so its gradient is what moves the activation away from ReLU.
  ASSERT_TRUE(d.fc2_weight.grad().defined());
  double g = 0;
  for (float v : d.fc2_weight.grad().to_vector<float>()) g += std::fabs(v);
  EXPECT_GT(g, 0.0);
  EXPECT_THROW(d.forward(testing::randn({5, 3}, 10, DType::F32)), Error);
}

}  // namespace
}  // namespace sprout
