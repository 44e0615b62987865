// SyntheticDataset: deterministic pseudo-random samples of any shape, for benchmarks
// and for machines without the real data. Each class has its own per-channel offset,
// so a model can learn it and a smoke run shows the loss going down.
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace sprout::data {

struct SyntheticOptions {
  Shape shape{3, 224, 224};
  int classes = 1000;
  int64_t size = 50000;
  uint64_t seed = 0;
  float noise = 1.0f;  // half-width of the uniform noise around each class's offsets
};

class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(const SyntheticOptions& options = {});
  int64_t size() const override { return options_.size; }
  Shape sample_shape() const override { return options_.shape; }
  int num_classes() const override { return options_.classes; }
  // A function of (seed, index) only; the augmentation Rng is not used.
  void get(int64_t index, float* x, int32_t* label, Rng& rng) const override;
  std::string name() const override { return "synthetic"; }

 private:
  SyntheticOptions options_;
};

}  // namespace sprout::data
