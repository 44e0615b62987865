// Whole training steps of the methods that decide on the device (RigL, SET,
// set_magnitude, GraNet, GMP, EAST, k-starts) on CUDA against the CPU from the same
// seed: the loss of every step, the weights, and the topology after each update. Both
// devices draw the same tie noise and random keys, so they make the same decisions;
// only float rounding of the dense gradient can swap a pick whose score ties another
// to ~1e-6.
#include <algorithm>
#include <cmath>

#include "engine/sparse/parameter.h"
#include "engine/sparsity/select.h"
#include "method_harness.h"

namespace sprout::sparsity {
namespace {

struct LayerState {
  std::vector<int64_t> positions;
  std::vector<float> values;
};

// Block positions (entries for CSR) and values, read on the host.
LayerState read(const SparseLayer& L) {
  auto rp = L.p->row_ptr.to_vector<int32_t>(), ci = L.p->col_idx.to_vector<int32_t>();
  std::vector<float> v = L.p->values.to_vector<float>();
  std::vector<int64_t> pos = flat_positions(rp, ci, sparse::grid_cols(*L.p));
  // One value per position: the first of each block.
  std::vector<float> first(pos.size());
  const int64_t be = (int64_t)L.p->block * L.p->block;
  for (size_t e = 0; e < pos.size(); ++e) first[e] = v[e * (size_t)be];
  return {pos, first};
}

void expect_same_training(const Json& sparsity, int64_t steps_per_epoch, int64_t epochs) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU: " << cuda_unavailable_reason();
  Harness cpu(sparsity, steps_per_epoch, epochs, 3, Device::cpu());
  Harness gpu(sparsity, steps_per_epoch, epochs, 3, Device::cuda());
  int64_t positions = 0, same_positions = 0, updates = 0;
  for (int64_t s = 0; s < steps_per_epoch * epochs; ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    const double lc = cpu.run_step(), lg = gpu.run_step();
    EXPECT_NEAR(lg, lc, 1e-4 * std::max(1.0, std::fabs(lc)));
    auto lc_layers = cpu.layers(), lg_layers = gpu.layers();
    ASSERT_EQ(lc_layers.size(), lg_layers.size());
    for (size_t i = 0; i < lc_layers.size(); ++i) {
      LayerState a = read(lc_layers[i]), b = read(lg_layers[i]);
      ASSERT_EQ(a.positions.size(), b.positions.size()) << lc_layers[i].name;
      for (size_t e = 0; e < a.positions.size(); ++e) {
        ++positions;
        if (a.positions[e] != b.positions[e]) continue;
        ++same_positions;
        EXPECT_NEAR(b.values[e], a.values[e], 1e-4) << lc_layers[i].name << " entry " << e;
      }
    }
    for (auto& ev : gpu.sp->take_events()) (void)ev, ++updates;
    cpu.sp->take_events();
  }
  EXPECT_GT(updates, 0) << "the run made no topology update";
  // Position by position (storage order) the structures agree; a swapped pick shifts
  // the rest of its row, so allow a little.
  EXPECT_GE((double)same_positions, 0.98 * (double)positions);
}

TEST(CudaMethodParity, RigL) {
  expect_same_training({{"method", "rigl"}, {"density", 0.3}, {"distribution", "erk"}, {"update_every", 4},
                        {"drop_fraction", 0.3}, {"end_fraction", 0.75}}, 4, 3);
}

TEST(CudaMethodParity, RigLBlockSparse) {
  expect_same_training({{"method", "rigl"}, {"density", 0.3}, {"distribution", "erk"}, {"update_every", 4},
                        {"drop_fraction", 0.3}, {"end_fraction", 0.75}, {"format", "bsr"}, {"block", 4}}, 4, 3);
}

TEST(CudaMethodParity, Set) {
  expect_same_training({{"method", "set"}, {"density", 0.3}, {"distribution", "er"}, {"zeta", 0.3}}, 4, 3);
}

TEST(CudaMethodParity, SetMagnitude) {
  expect_same_training({{"method", "set_magnitude"}, {"density", 0.3}, {"distribution", "erk"},
                        {"update_every", 3}, {"drop_fraction", 0.3}, {"end_fraction", 0.75}}, 4, 3);
}

TEST(CudaMethodParity, GraNetGlobal) {
  expect_same_training({{"method", "granet"}, {"init_density", 0.5}, {"final_density", 0.2},
                        {"distribution", "erk"}, {"update_every", 2}, {"prune_start_epoch", 0},
                        {"prune_end_epoch", 2}}, 4, 3);
}

TEST(CudaMethodParity, GmpLayerwise) {
  expect_same_training({{"method", "gmp"}, {"final_density", 0.2}, {"update_every", 2}, {"prune_start_epoch", 0},
                        {"prune_end_epoch", 2}, {"layerwise", true}}, 4, 3);
}

TEST(CudaMethodParity, KStartsGradientFitness) {
  expect_same_training({{"method", "kstarts"}, {"density", 0.2}, {"distribution", "uniform"}, {"k", 3},
                        {"warm_epochs", 1}, {"fitness", "gradient"}}, 4, 3);
}

TEST(CudaMethodParity, EastCyclicWithDyRelu) {
  expect_same_training({{"method", "east"}, {"density", 0.3}, {"min_density", 0.05}, {"update_every", 2},
                        {"dyrelu", true}, {"cyclic", true}, {"cycles", 1}, {"cycle_epochs_fraction", 0.5}}, 4, 3);
}

// The caching allocator serves a steady state of RigL training (update steps included:
// the dense gradient, the selections and the edit) without new cudaMalloc calls.
TEST(CudaSteadyState, RigLTrainingMakesNoDeviceMallocsAfterWarmUp) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU: " << cuda_unavailable_reason();
  Harness gpu({{"method", "rigl"}, {"density", 0.3}, {"distribution", "erk"}, {"update_every", 4},
               {"drop_fraction", 0.3}, {"end_fraction", 1.0}}, 4, 8, 3, Device::cuda());
  for (int i = 0; i < 12; ++i) gpu.run_step();  // three update cycles
  const int64_t mallocs = Allocator::stats(DeviceType::CUDA).device_mallocs;
  for (int i = 0; i < 16; ++i) gpu.run_step();  // four more, update steps included
  EXPECT_EQ(Allocator::stats(DeviceType::CUDA).device_mallocs, mallocs);
  EXPECT_GT(mallocs, 0);
}

}  // namespace
}  // namespace sprout::sparsity
