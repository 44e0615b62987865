// The backward pass of engine/autograd/engine.cpp: gradients summed per node and per
// leaf, accumulated across backward calls, and no graph under NoGradGuard, each checked
// exactly against derivatives worked out by hand.
#include "testing.h"

#include "engine/ops/elementwise.h"

namespace sprout {
namespace {

TEST(Autograd, AccumulatesAcrossUsesAndFreesGraph) {
  // y = sum(x * x + x): dy/dx = 2x + 1; x is used three times.
  Tensor x = Tensor::from_vector<double>({1.0, -2.0, 0.5}, {3});
  x.set_requires_grad(true);
  Tensor y = ops::sum(ops::add(ops::mul(x, x), x));
  y.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(g[0], 3.0);
  EXPECT_DOUBLE_EQ(g[1], -3.0);
  EXPECT_DOUBLE_EQ(g[2], 2.0);
  // A second backward through a fresh graph accumulates into .grad.
  ops::sum(x).backward();
  EXPECT_DOUBLE_EQ(x.grad().to_vector<double>()[0], 4.0);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = Tensor::from_vector<double>({1.0}, {1});
  x.set_requires_grad(true);
  autograd::NoGradGuard ng;
  Tensor y = ops::mul(x, x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

// h = 2x through a hand-made node with both edges on x; y = sum(h * c + h). The node is
// reached twice (from the mul and the add) and must run once, on dy/dh = c + 1; its two
// gradients for x (the leaf used twice) are summed: dy/dx = 2 (c + 1). A second graph's
// gradient then accumulates into x.grad.
TEST(Autograd, NodeSumsIncomingGradientsAndLeafUsedTwiceAccumulates) {
  Tensor x = Tensor::from_vector<double>({1.5, -2.0, 0.25}, {3});
  x.set_requires_grad(true);
  Tensor c = Tensor::from_vector<double>({2.0, 0.5, -3.0}, {3});
  int calls = 0;
  std::vector<double> seen;
  Tensor h = ops::scale(x.detach(), 2.0);
  autograd::record(h, std::make_shared<autograd::FunctionNode>("twice", [&](const Tensor& g) {
    ++calls;
    seen = g.to_vector<double>();
    return std::vector<Tensor>{g, g};
  }), {&x, &x});
  Tensor y = ops::sum(ops::add(ops::mul(h, c), h));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{2.0}));  // 9 - 6 - 1
  y.backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, (std::vector<double>{3.0, 1.5, -2.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6.0, 3.0, -4.0}));
  // sum(x * x): x twice in one node, dy/dx = 2x = {3, -4, 0.5}, added to what is there.
  ops::sum(ops::mul(x, x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{9.0, -1.0, -3.5}));
  EXPECT_EQ(calls, 1);  // the second graph does not reach the hand-made node
}

}  // namespace
}  // namespace sprout
