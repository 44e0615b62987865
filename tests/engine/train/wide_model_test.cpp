// A model whose dense twin cannot exist here: an MLP 784-100000-100000-10 (the middle
// layer alone 40 GB dense) at density 3e-5, built and trained a few RigL steps with
// sampled growth on a random batch. The allocator's peak in every category stays below
// the dense bytes of the smallest sparse layer (784 x 100000, 313 MB), so no sparse
// layer ever had a dense-shaped weight, mask or gradient.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/allocator.h"
#include "engine/train/options.h"
#include "engine/train/run.h"
#include "models/models.h"
#include "testing.h"

namespace sprout::train {
namespace {

using Json = nlohmann::json;

TEST(WideModel, NoSparseLayerEverHoldsItsDenseShape) {
  models::register_models();
  Json cfg = default_config();
  cfg["model"]["name"] = "mlp";
  cfg["model"]["hidden"] = {100000, 100000};
  cfg["train"]["epochs"] = 1;
  cfg["train"]["batch_size"] = 16;
  cfg["sparsity"].update(Json{{"method", "rigl"}, {"density", 3e-5}, {"distribution", "uniform"},
                              {"last_layer_dense", true}, {"update_every", 1}, {"grow", "sampled"},
                              {"grow_candidates", 4}});
  Allocator::empty_cache();
  const int64_t base = Allocator::stats(DeviceType::CPU).total_current;
  Allocator::reset_peaks(DeviceType::CPU);
  train::Run run(cfg, DataSpec{{784}, 10}, 4, Device::cpu());
  Batch b{testing::randn({16, 784}, 3, DType::F32), Tensor()};
  std::vector<int32_t> labels(16);
  for (int i = 0; i < 16; ++i) labels[(size_t)i] = i % 10;
  b.y = Tensor::from_vector<int32_t>(labels, {16});
  std::vector<int64_t> nnz_before;
  for (auto& p : run.model->parameters())
    if (p.sparse) nnz_before.push_back(p.sparse->nnz());
  ASSERT_EQ(nnz_before.size(), 2u);
  EXPECT_EQ(nnz_before[1], 300000);
  std::vector<int32_t> cols_before = run.model->parameters()[2].sparse->col_idx.to_vector<int32_t>();
  for (int s = 0; s < 3; ++s) EXPECT_TRUE(std::isfinite(run.step(b, true)));
  // The updates moved the structure and kept each layer's count.
  size_t i = 0;
  for (auto& p : run.model->parameters()) {
    if (p.sparse) { EXPECT_EQ(p.sparse->nnz(), nnz_before[i++]); }
  }
  EXPECT_NE(run.model->parameters()[2].sparse->col_idx.to_vector<int32_t>(), cols_before);
  const MemStats st = Allocator::stats(DeviceType::CPU);
  const int64_t smallest_dense = 784LL * 100000 * 4;
  for (int c = 0; c < kNumMemCategories; ++c)
    EXPECT_LT(st.peak[(size_t)c], smallest_dense) << mem_category_name((MemCategory)c);
  EXPECT_LT(st.total_peak - base, smallest_dense);
  // Weights: the stored values, biases and the dense last layer, with room for one copy.
  EXPECT_LT(st.pk(MemCategory::Weights), 3 * (300000 + 2352) * 4 + 3 * 1000000 * 4);
}

}  // namespace
}  // namespace sprout::train
