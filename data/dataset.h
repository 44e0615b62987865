// Datasets. A Dataset produces one sample at a time into caller buffers; augmentation
// draws from an Rng seeded by (seed, epoch, index), so a run is reproducible whatever
// the number of loader threads, and resumes exactly. Batches are sprout::Batch
// (engine/train/data_source.h), the engine's view of data.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/rng.h"
#include "engine/core/tensor.h"
#include "engine/train/data_source.h"

namespace sprout::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Shape of one sample, e.g. {784} or {3, 224, 224}.
  virtual Shape sample_shape() const = 0;
  virtual int num_classes() const = 0;
  // Writes sample `index` (float32, sample_shape) and its label. `rng` drives augmentation.
  virtual void get(int64_t index, float* x, int32_t* label, Rng& rng) const = 0;
  virtual std::string name() const = 0;
};

using DatasetPtr = std::shared_ptr<Dataset>;


}  // namespace sprout::data
