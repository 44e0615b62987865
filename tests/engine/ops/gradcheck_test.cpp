// Finite-difference gradient checks in float64 for every differentiable op in the
// engine, on tiny shapes (each input element costs two forward passes).
#include "testing.h"

#include "engine/ops/batchnorm.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"
#include "engine/ops/shape.h"

namespace sprout {
namespace {

using testing::gradcheck;
using testing::randn;
using Inputs = std::vector<Tensor>;

TEST(Gradcheck, Add) {
  gradcheck([](const Inputs& in) { return ops::add(in[0], in[1]); },
            {randn({3, 4}, 1), randn({3, 4}, 2)});
}

TEST(Gradcheck, AddSameInputTwice) {
  // Both edges lead to one leaf: the gradients must be summed.
  gradcheck([](const Inputs& in) { return ops::add(in[0], in[0]); }, {randn({5}, 3)});
}

TEST(Gradcheck, Mul) {
  gradcheck([](const Inputs& in) { return ops::mul(in[0], in[1]); },
            {randn({2, 3, 2}, 4), randn({2, 3, 2}, 5)});
}

TEST(Gradcheck, Scale) {
  gradcheck([](const Inputs& in) { return ops::scale(in[0], -2.5); }, {randn({7}, 6)});
}

TEST(Gradcheck, AddBias) {
  gradcheck([](const Inputs& in) { return ops::add_bias(in[0], in[1]); },
            {randn({2, 3, 2, 2}, 7), randn({3}, 8)});
  gradcheck([](const Inputs& in) { return ops::add_bias(in[0], in[1]); },
            {randn({4, 5}, 9), randn({5}, 10)});
}

TEST(Gradcheck, Relu) {
  gradcheck([](const Inputs& in) { return ops::relu(in[0]); }, {randn({3, 5}, 11)});
}

TEST(Gradcheck, SumAndMean) {
  gradcheck([](const Inputs& in) { return ops::sum(in[0]); }, {randn({3, 4}, 12)});
  gradcheck([](const Inputs& in) { return ops::mean(in[0]); }, {randn({3, 4}, 13)});
}

TEST(Gradcheck, Reshape) {
  // The weighting makes the check sensitive to where each element lands.
  gradcheck([](const Inputs& in) { return ops::mul(ops::reshape(in[0], {6, 2}), in[1]); },
            {randn({3, 4}, 14), randn({6, 2}, 15)});
}

TEST(Gradcheck, Matmul) {
  gradcheck([](const Inputs& in) { return ops::matmul(in[0], in[1]); },
            {randn({3, 4}, 16), randn({4, 5}, 17)});
}

TEST(Gradcheck, LinearWithBias) {
  gradcheck([](const Inputs& in) { return ops::linear(in[0], in[1], in[2]); },
            {randn({3, 4}, 18), randn({5, 4}, 19), randn({5}, 20)});
}

TEST(Gradcheck, LinearWithoutBias) {
  gradcheck([](const Inputs& in) { return ops::linear(in[0], in[1], Tensor()); },
            {randn({2, 3}, 21), randn({4, 3}, 22)});
}

TEST(Gradcheck, CrossEntropy) {
  Tensor labels = Tensor::from_vector<int32_t>({2, 0, 3, 1}, {4});
  gradcheck([&](const Inputs& in) { return ops::cross_entropy(in[0], labels); },
            {randn({4, 5}, 23)});
}

TEST(Gradcheck, CrossEntropyLabelSmoothing) {
  Tensor labels = Tensor::from_vector<int32_t>({2, 0, 3, 1}, {4});
  gradcheck([&](const Inputs& in) { return ops::cross_entropy(in[0], labels, 0.1); },
            {randn({4, 5}, 24)});
}

struct ConvCase { int64_t n, c, h, w, o, k, stride, pad; bool bias; };

class GradcheckConv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(GradcheckConv, InputWeightBias) {
  ConvCase p = GetParam();
  Inputs in{randn({p.n, p.c, p.h, p.w}, 25), randn({p.o, p.c, p.k, p.k}, 26)};
  if (p.bias) in.push_back(randn({p.o}, 27));
  gradcheck([p](const Inputs& x) {
    return ops::conv2d(x[0], x[1], p.bias ? x[2] : Tensor(), p.stride, p.pad);
  }, in);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GradcheckConv, ::testing::Values(
    ConvCase{2, 2, 5, 4, 3, 3, 1, 0, true},   // stride 1, no padding, odd sizes
    ConvCase{2, 3, 5, 5, 2, 3, 1, 1, true},   // stride 1, padding 1
    ConvCase{1, 2, 7, 6, 3, 3, 2, 0, false},  // stride 2, no padding, no bias
    ConvCase{2, 2, 5, 7, 3, 3, 2, 1, true},   // stride 2, padding 1
    ConvCase{2, 3, 9, 9, 2, 1, 1, 0, true},   // 1x1 (the direct per-image path)
    ConvCase{2, 3, 3, 3, 2, 1, 2, 0, false},  // 1x1 stride 2
    ConvCase{1, 1, 4, 4, 2, 4, 1, 0, true})); // kernel covers the whole image

TEST(Gradcheck, BatchNorm2dTrain) {
  gradcheck([](const Inputs& in) {
    return ops::batch_norm2d(in[0], in[1], in[2], Tensor(), Tensor(), true);
  }, {randn({3, 2, 3, 2}, 28), randn({2}, 29), randn({2}, 30)});
}

TEST(Gradcheck, BatchNorm2dTrainWithRunningStats) {
  // The running buffers change on every call, but the output does not depend on them.
  Tensor rm = Tensor::zeros({3}, DType::F64), rv = Tensor::full({3}, 1.0, DType::F64);
  gradcheck([&](const Inputs& in) {
    return ops::batch_norm2d(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-3);
  }, {randn({2, 3, 2, 3}, 31), randn({3}, 32), randn({3}, 33)});
}

TEST(Gradcheck, BatchNorm2dEval) {
  Tensor rm = randn({2}, 34), rv = Tensor::full({2}, 0.7, DType::F64);
  gradcheck([&](const Inputs& in) {
    return ops::batch_norm2d(in[0], in[1], in[2], rm, rv, false);
  }, {randn({2, 2, 3, 3}, 35), randn({2}, 36), randn({2}, 37)});
}

TEST(Gradcheck, BatchNorm2dNoAffine) {
  gradcheck([](const Inputs& in) {
    return ops::batch_norm2d(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
  }, {randn({2, 2, 2, 3}, 38)});
}

TEST(Gradcheck, MaxPool2d) {
  gradcheck([](const Inputs& in) { return ops::max_pool2d(in[0], 2, 2); }, {randn({2, 2, 4, 5}, 39)});
  // Overlapping windows with padding, as in ResNet's stem.
  gradcheck([](const Inputs& in) { return ops::max_pool2d(in[0], 3, 2, 1); }, {randn({1, 2, 5, 6}, 40)});
}

TEST(Gradcheck, AvgPool2d) {
  gradcheck([](const Inputs& in) { return ops::avg_pool2d(in[0], 2, 2); }, {randn({2, 2, 4, 5}, 41)});
  gradcheck([](const Inputs& in) { return ops::avg_pool2d(in[0], 3, 2, 1); }, {randn({1, 2, 5, 6}, 42)});
  gradcheck([](const Inputs& in) { return ops::avg_pool2d(in[0], 3, 1, 1); }, {randn({1, 1, 4, 3}, 43)});
  // A 1x1 window (a strided 1x1 convolution's subsampling), odd sides.
  gradcheck([](const Inputs& in) { return ops::avg_pool2d(in[0], 1, 2); }, {randn({1, 2, 5, 7}, 45)});
}

TEST(Gradcheck, GlobalAvgPool) {
  gradcheck([](const Inputs& in) { return ops::global_avg_pool(in[0]); }, {randn({2, 3, 3, 2}, 44)});
}

TEST(Gradcheck, SmallConvNetEndToEnd) {
  // conv -> bn -> relu -> maxpool -> conv -> gap -> linear -> cross-entropy: every
  // backward node composed, checked against the loss.
  Tensor labels = Tensor::from_vector<int32_t>({1, 0}, {2});
  gradcheck([&](const Inputs& in) {
    Tensor h = ops::conv2d(in[0], in[1], Tensor(), 1, 1);
    h = ops::relu(ops::batch_norm2d(h, in[2], in[3], Tensor(), Tensor(), true));
    h = ops::max_pool2d(h, 2, 2);
    h = ops::global_avg_pool(ops::conv2d(h, in[4], Tensor(), 1, 0));
    return ops::cross_entropy(ops::linear(h, in[5], Tensor()), labels, 0.05);
  }, {randn({2, 2, 4, 4}, 45), randn({3, 2, 3, 3}, 46), randn({3}, 47), randn({3}, 48),
      randn({4, 3, 1, 1}, 49), randn({2, 4}, 50)}, 1e-5);
}

}  // namespace
}  // namespace sprout
