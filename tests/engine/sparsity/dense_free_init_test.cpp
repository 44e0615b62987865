// Sparse layers built without their dense weight: under nn::DeferDenseWeights the
// sparsifier draws each stored value where it lands, and the result is bit-identical to
// sparsifying a model whose dense weights were drawn first (the path every model took
// before), for CSR and BSR, linear and convolutional, with the layers that stay dense
// materialised.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "engine/core/allocator.h"
#include "engine/io/config.h"
#include "engine/nn/init.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/nn/weight_draw.h"
#include "engine/sparse/parameter.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/registry.h"
#include "models/models.h"
#include "models/resnet.h"

namespace sprout::sparsity {
namespace {

using Json = nlohmann::json;

using Make = nn::ModulePtr (*)();
nn::ModulePtr small_mlp() { return models::mlp(30, {50, 40}, 7); }
// Convolutions drawn by kaiming_normal_ (fan_out), a strided stem and a 1x1 downsample.
nn::ModulePtr small_resnet() { return models::resnet(18, 5, "cifar"); }

nn::ModulePtr build(const Json& sparsity, bool deferred, uint64_t seed, Make make) {
  Json cfg = {{"sparsity", sparsity_defaults()}};
  io::merge_checked(cfg, Json{{"sparsity", sparsity}}, "test");
  nn::init_rng().seed_with(seed);
  nn::ModulePtr model;
  {
    std::optional<nn::DeferDenseWeights> defer;
    if (deferred) defer.emplace();
    model = make();
  }
  make_sparsifier(cfg["sparsity"], *model, seed);
  return model;
}

void expect_same_model(const Json& sparsity, int want_sparse_layers, Make make = small_mlp) {
  nn::ModulePtr a = build(sparsity, false, 11, make), b = build(sparsity, true, 11, make);
  auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  int sparse_layers = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    SCOPED_TRACE(pa[i].name);
    ASSERT_EQ(pa[i].name, pb[i].name);
    ASSERT_TRUE(pb[i].tensor->defined());
    EXPECT_EQ(pa[i].tensor->to_vector<float>(), pb[i].tensor->to_vector<float>());
    ASSERT_EQ(pa[i].sparse != nullptr, pb[i].sparse != nullptr);
    if (!pa[i].sparse) continue;
    ++sparse_layers;
    EXPECT_EQ(pa[i].sparse->row_ptr.to_vector<int32_t>(), pb[i].sparse->row_ptr.to_vector<int32_t>());
    EXPECT_EQ(pa[i].sparse->col_idx.to_vector<int32_t>(), pb[i].sparse->col_idx.to_vector<int32_t>());
  }
  EXPECT_EQ(sparse_layers, want_sparse_layers);
}

TEST(DenseFreeInit, CsrLayersMatchTheDenseDrawBitForBit) {
  expect_same_model({{"method", "rigl"}, {"density", 0.2}, {"distribution", "erk"}, {"last_layer_dense", true}}, 2);
}

TEST(DenseFreeInit, BsrLayersMatchTheDenseDrawBitForBit) {
  expect_same_model({{"method", "rigl"}, {"density", 0.3}, {"distribution", "uniform"}, {"format", "bsr"},
                     {"block", 4}}, 3);
}

TEST(DenseFreeInit, DenseMethodsMaterialiseEveryWeight) {
  expect_same_model({{"method", "dense"}}, 0);
  expect_same_model({{"method", "dense"}}, 0, small_resnet);
}

TEST(DenseFreeInit, ConvLayersMatchTheDenseDrawBitForBit) {
  // ResNet-18 (CIFAR stem): 20 convolutions and the classifier; ERK at 0.1 leaves the
  // stem, the classifier and two downsampling convolutions dense.
  expect_same_model({{"method", "rigl"}, {"density", 0.1}, {"distribution", "erk"}}, 17, small_resnet);
  expect_same_model({{"method", "rigl"}, {"density", 0.3}, {"distribution", "uniform"}, {"format", "bsr"},
                     {"block", 4}}, 21, small_resnet);
}

TEST(DenseFreeInit, SparseConvLayersNeverHoldTheirDenseShape) {
  // The largest conv weight of ResNet-18 is 512 x 512 x 3 x 3 (9 MiB): at density 0.01
  // no allocator category may come near it while the model is built and sparsified.
  Allocator::empty_cache();
  Allocator::reset_peaks(DeviceType::CPU);
  const MemStats before = Allocator::stats(DeviceType::CPU);
  nn::ModulePtr m = build({{"method", "rigl"}, {"density", 0.01}, {"distribution", "uniform"}}, true, 3,
                          small_resnet);
  const MemStats st = Allocator::stats(DeviceType::CPU);
  const int64_t largest_dense = 512 * 512 * 9 * 4;
  for (int c = 0; c < kNumMemCategories; ++c)
    EXPECT_LT(st.peak[(size_t)c] - before.current[(size_t)c], largest_dense / 4) << mem_category_name((MemCategory)c);
  // The stored weights: about 1% of ResNet-18's 11.2 M (0.45 MB) with its BatchNorm
  // parameters, against 44.7 MB drawn densely.
  EXPECT_LT(st.pk(MemCategory::Weights) - before.cur(MemCategory::Weights), 1 << 20);
}

TEST(DenseFreeInit, ADenseConvDrawsWhatKaimingNormalDraws) {
  nn::init_rng().seed_with(6);
  nn::Conv2d c(3, 8, 3, 1, 1, false);
  c.reset_normal(0.25, nn::init_rng());
  Rng r(6);
  Tensor want = Tensor::empty({8, 3, 3, 3}, DType::F32, Device::cpu());
  nn::uniform_(want, -1.0 / std::sqrt(27.0), 1.0 / std::sqrt(27.0), r);
  nn::normal_(want, 0.0, 0.25, r);
  EXPECT_EQ(c.weight.shape(), want.shape());
  EXPECT_EQ(c.weight.to_vector<float>(), want.to_vector<float>());
}

TEST(DenseFreeInit, ADenseLinearDrawsWhatAUniformFillDraws) {
  nn::init_rng().seed_with(5);
  nn::Linear l(30, 50);
  Rng r(5);
  Tensor want = Tensor::empty({50, 30}, DType::F32, Device::cpu());
  nn::uniform_(want, -1.0 / std::sqrt(30.0), 1.0 / std::sqrt(30.0), r);
  EXPECT_EQ(l.weight.to_vector<float>(), want.to_vector<float>());
}

TEST(DenseFreeInit, ValuesKeepTheKaimingUniformBoundAndSpread) {
  // A weight above the stream limit is drawn by position: U(-1/sqrt(in), 1/sqrt(in)).
  nn::WeightDraw d;
  d.rows = 1 << 17;
  d.cols = 1 << 15;
  d.bound = 1.0 / std::sqrt((double)d.cols);
  d.streamed = false;
  d.seed = 99;
  std::vector<int64_t> pos(40000);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = (int64_t)i * 104729;
  std::vector<float> v(pos.size());
  d.values_at(pos.data(), (int64_t)pos.size(), v.data());
  double mean = 0, sq = 0, lo = 1, hi = -1;
  for (float x : v) { mean += x; sq += (double)x * x; lo = std::min(lo, (double)x); hi = std::max(hi, (double)x); }
  mean /= (double)v.size();
  const double var = sq / (double)v.size() - mean * mean, want_var = d.bound * d.bound / 3.0;
  EXPECT_GE(lo, -d.bound);
  EXPECT_LE(hi, d.bound);
  EXPECT_NEAR(mean, 0.0, 4.0 * std::sqrt(want_var / (double)v.size()));
  EXPECT_NEAR(var / want_var, 1.0, 0.03);
  EXPECT_GT(hi, 0.99 * d.bound);
  EXPECT_LT(lo, -0.99 * d.bound);
}

TEST(DenseFreeInit, IndicesBeyondInt32AreAnErrorBeforeAnyAllocation) {
  // 2^31 rows would need an 8 GiB row_ptr: refused from the sizes alone.
  const nn::ValuesAt none = [](const int64_t*, int64_t, float*) {};
  try {
    nn::parameter_at(int64_t(1) << 31, 4, 1, {}, none, {int64_t(1) << 31, 4});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(nn::parameter_at(1000, 1000, 1, {5, 999999}, none, {1000, 1000}));
}

}  // namespace
}  // namespace sprout::sparsity
