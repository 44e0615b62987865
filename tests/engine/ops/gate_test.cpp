// Gate ops: the hard gate's forward and straight-through backward against hand
// values, the learned channel scale by finite differences, and the polarization and
// density regularizers (value by hand, Pol's gradient by finite differences).
#include <cmath>

#include "engine/ops/gate.h"
#include "testing.h"

namespace sprout {
namespace {

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

template <class T>
void check_gate_hand_values() {
  // x [2, 3], gates 1, 0, 1.
  Tensor x = Tensor::from_vector<T>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor z = Tensor::from_vector<T>({0.5, -1.0, 2.0}, {3});
  x.set_requires_grad(true);
  z.set_requires_grad(true);
  Tensor y = ops::gate(x, z);
  EXPECT_EQ(y.to_vector<T>(), (std::vector<T>{1, 0, 3, 4, 0, 6}));
  y.backward(Tensor::from_vector<T>({1, 1, 1, 2, 2, 2}, {2, 3}));
  // dx = g * b; dL/db_u = sum_n g x; dz = dL/db q (1 - q).
  EXPECT_EQ(x.grad().template to_vector<T>(), (std::vector<T>{1, 0, 1, 2, 0, 2}));
  std::vector<double> db{1 * 1 + 2 * 4, 1 * 2 + 2 * 5, 1 * 3 + 2 * 6}, zv{0.5, -1.0, 2.0};
  std::vector<T> dz = z.grad().template to_vector<T>();
  for (size_t u = 0; u < 3; ++u) {
    double q = sigmoid(zv[u]);
    EXPECT_NEAR((double)dz[u], db[u] * q * (1 - q), 1e-5 * std::fabs(db[u])) << "unit " << u;
  }
}

TEST(GateOp, ForwardAndStraightThroughBackwardF32) { check_gate_hand_values<float>(); }
TEST(GateOp, ForwardAndStraightThroughBackwardF64) { check_gate_hand_values<double>(); }

TEST(GateOp, ChannelGatesOnImagesAndOneBlockGate) {
  // [N=2, C=2, H=1, W=2]: channel 0 closed; then one gate for everything, closed.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 1, 2});
  Tensor zc = Tensor::from_vector<double>({-0.2, 0.1}, {2});
  EXPECT_EQ(ops::gate(x, zc).to_vector<double>(), (std::vector<double>{0, 0, 3, 4, 0, 0, 7, 8}));
  Tensor zb = Tensor::from_vector<double>({-0.3}, {1});
  zb.set_requires_grad(true);
  Tensor y = ops::gate(x, zb);
  for (double v : y.to_vector<double>()) EXPECT_EQ(v, 0.0);
  y.backward(Tensor::full({2, 2, 1, 2}, 1.0, DType::F64));
  double q = sigmoid(-0.3);
  EXPECT_NEAR(zb.grad().to_vector<double>()[0], 36.0 * q * (1 - q), 1e-12);  // sum of x
  EXPECT_THROW(ops::gate(x, Tensor::zeros({3}, DType::F64)), Error);
}

TEST(GateOp, ChannelScaleGradcheck) {
  testing::gradcheck([](const std::vector<Tensor>& in) { return ops::channel_scale(in[0], in[1]); },
                     {testing::randn({3, 4, 2, 2}, 1), testing::randn({4}, 2)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return ops::channel_scale(in[0], in[1]); },
                     {testing::randn({5, 3}, 3), testing::randn({1}, 4)});
}

TEST(GateRegularizers, PolarizationValueByHand) {
  std::vector<double> z{0.3, -1.2, 2.0, 0.7, -0.1};
  Tensor a = Tensor::from_vector<double>({z[0], z[1], z[2]}, {3});
  Tensor b = Tensor::from_vector<double>({z[3], z[4]}, {2});
  double t = 1.2, sum = 0, mean = 0, spread = 0;
  for (double v : z) mean += sigmoid(v) / 5.0;
  for (double v : z) {
    sum += sigmoid(v);
    spread += std::fabs(sigmoid(v) - mean);
  }
  EXPECT_NEAR(ops::polarization({a, b}, t).item(), t * sum - spread, 1e-12);
  // A polarized population scores lower than a uniform one with the same mean.
  Tensor split = Tensor::from_vector<double>({-6, 6, -6, 6}, {4});
  Tensor flat = Tensor::from_vector<double>({0, 0, 0, 0}, {4});
  EXPECT_LT(ops::polarization({split}, t).item(), ops::polarization({flat}, t).item());
}

TEST(GateRegularizers, PolarizationGradientByFiniteDifferences) {
  for (double t : {1.2, 0.8}) {
    testing::gradcheck([t](const std::vector<Tensor>& in) { return ops::polarization({in[0], in[1]}, t); },
                       {testing::randn({7}, 11), testing::randn({2, 3}, 12)});
  }
}

TEST(GateRegularizers, DensityPenaltyValueAndStraightThroughGradient) {
  // 5 gates, 3 open: mean(b) = 0.6, target 0.4 -> (0.2)^2.
  std::vector<double> z{0.3, -1.2, 2.0, 0.7, -0.1};
  Tensor a = Tensor::from_vector<double>(z, {5});
  a.set_requires_grad(true);
  Tensor p = ops::gate_density_penalty({a}, 0.4);
  EXPECT_NEAR(p.item(), 0.04, 1e-12);
  p.backward();
  std::vector<double> g = a.grad().to_vector<double>();
  for (size_t i = 0; i < z.size(); ++i) {
    double q = sigmoid(z[i]);
    EXPECT_NEAR(g[i], 2 * 0.2 / 5 * q * (1 - q), 1e-12) << i;
  }
  // float32 runs the same formula.
  Tensor f = Tensor::from_vector<float>({0.3f, -1.2f, 2.0f, 0.7f, -0.1f}, {5});
  EXPECT_NEAR(ops::gate_density_penalty({f}, 0.4).item(), 0.04, 1e-6);
  EXPECT_EQ(ops::count_open_gates(f), 3);
}

}  // namespace
}  // namespace sprout
