// Layer densities: ERK and ER against the closed form, exact nnz totals, and the
// dense-layer loop.
#include "engine/sparsity/distribution.h"
#include "testing.h"

namespace sprout::sparsity {
namespace {

std::vector<LayerSpec> mlp_layers() {
  return {{"0.weight", {1000, 784}}, {"2.weight", {1000, 1000}}, {"4.weight", {1000, 1000}},
          {"6.weight", {10, 1000}}};
}

int64_t total(const std::vector<LayerSpec>& l) {
  int64_t t = 0;
  for (auto& x : l) t += x.numel();
  return t;
}

TEST(Distribution, ErkSumsExactlyToTargetNnz) {
  auto layers = mlp_layers();
  for (double d : {0.5, 0.1, 0.05, 0.01}) {
    auto b = layer_budgets(layers, d, "erk");
    int64_t nnz = 0;
    for (auto& x : b) nnz += x.nnz;
    EXPECT_EQ(nnz, (int64_t)std::llround(d * (double)total(layers))) << "density " << d;
  }
}

TEST(Distribution, ErkMatchesClosedFormAndDenseLoop) {
  // raw_l = (out + in) / (out in). The 10x1000 layer has the largest raw score (0.101):
  // at density 0.1 eps * 0.101 > 1, so the loop makes it dense and solves eps again
  // over the other three: eps = (0.1 N - 10000) / sum_l (out_l + in_l), so that the
  // total nnz is still 0.1 N.
  auto layers = mlp_layers();
  auto b = layer_budgets(layers, 0.1, "erk");
  EXPECT_DOUBLE_EQ(b[3].density, 1.0);
  double n_total = (double)total(layers);
  double eps = (0.1 * n_total - 10000.0) / (1784.0 + 2000.0 + 2000.0);
  for (size_t i = 0; i < 3; ++i) {
    double raw = (double)(layers[i].shape[0] + layers[i].shape[1]) / (double)layers[i].numel();
    EXPECT_NEAR(b[i].density, eps * raw, 1.0 / (double)layers[i].numel() + 1e-12) << layers[i].name;
  }
  // Without the small layer, nothing needs to be dense and eps is the first solution.
  layers.pop_back();
  auto b2 = layer_budgets(layers, 0.1, "erk");
  double eps2 = 0.1 * (double)total(layers) / (1784.0 + 2000.0 + 2000.0);
  EXPECT_NEAR(b2[1].density, eps2 * 2000.0 / 1e6, 1e-6);
}

TEST(Distribution, ErkUsesKernelDimsForConvs) {
  std::vector<LayerSpec> layers{{"c1", {64, 3, 7, 7}}, {"c2", {64, 64, 3, 3}}, {"fc", {10, 64}}};
  auto b = layer_budgets(layers, 0.2, "erk");
  // Ratio of densities of two scaled layers equals the ratio of their raw scores.
  double r1 = (64.0 + 3 + 7 + 7) / (64.0 * 3 * 49), r2 = (64.0 + 64 + 3 + 3) / (64.0 * 64 * 9);
  ASSERT_LT(b[0].density, 1.0);
  ASSERT_LT(b[1].density, 1.0);
  EXPECT_NEAR(b[0].density / b[1].density, r1 / r2, 0.01);
}

TEST(Distribution, UniformHonoursForcedDenseLayers) {
  auto layers = mlp_layers();
  layers[0].force_dense = true;
  auto b = layer_budgets(layers, 0.1, "uniform");
  EXPECT_EQ(b[0].nnz, 784000);
  EXPECT_EQ(b[1].nnz, 100000);
  EXPECT_EQ(b[3].nnz, 1000);
}

TEST(Distribution, SetEpsilonParameterisation) {
  auto layers = mlp_layers();
  auto b = layer_budgets(layers, 0.0, "er", 20.0);
  EXPECT_NEAR(b[1].density, 20.0 * 2000.0 / 1e6, 1e-6);
  EXPECT_NEAR(b[0].density, 20.0 * 1784.0 / 784000.0, 2e-6);
  EXPECT_THROW(layer_budgets(layers, 0.1, "gaussian"), Error);
}

}  // namespace
}  // namespace sprout::sparsity
