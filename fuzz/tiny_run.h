// The small run the checkpoint harness loads into and its seed checkpoint comes from: a
// RigL MLP (12-16-3, density 0.5) with SGD momentum, so a checkpoint holds sparse and
// dense layers, optimizer state, the method's state and the counters.
#pragma once
#include <memory>

#include "data/registry.h"
#include "engine/train/options.h"
#include "engine/train/run.h"
#include "models/models.h"

namespace sprout::fuzz {

inline void register_components() {
  models::register_models();
  data::register_data_sets();
}

inline const nlohmann::json& tiny_run_config() {
  static const nlohmann::json cfg = train::load_config(
      "", {"model.name=mlp", "model.hidden=[16]", "data.name=synthetic",
           R"(data.options={"shape": [12], "classes": 3, "size": 64})", "data.workers=0", "train.batch_size=8",
           "train.epochs=2", "optimizer.momentum=0.9", "sparsity.method=rigl", "sparsity.density=0.5",
           "sparsity.distribution=uniform", "sparsity.update_every=3"});
  return cfg;
}

inline std::unique_ptr<train::Run> tiny_run() {
  return std::make_unique<train::Run>(tiny_run_config(), train::DataSpec{{12}, 3}, 8, Device::cpu());
}

// One fixed batch of 8 samples for the run's step.
inline Batch tiny_batch() {
  std::vector<float> x(8 * 12);
  std::vector<int32_t> y(8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
  for (size_t i = 0; i < y.size(); ++i) y[i] = (int32_t)(i % 3);
  return {Tensor::from_vector(x, {8, 12}), Tensor::from_vector(y, {8})};
}

}  // namespace sprout::fuzz
