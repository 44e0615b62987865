// What training needs of data and models, as the engine sees them: batches from a
// source, and registries that the data sets and models register into by name (the
// engine never includes data/ or models/; apps link them in and register them).
#pragma once
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/core/registry.h"
#include "engine/core/tensor.h"
#include "engine/nn/module.h"

namespace sprout {

struct Batch {
  Tensor x;  // float32 [B, sample_shape...], on the source's device
  Tensor y;  // int32 [B]
  int64_t size() const { return y.defined() ? y.numel() : 0; }
};

}  // namespace sprout

namespace sprout::train {

// Batches of one split, in a reproducible order per epoch.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  virtual void start_epoch(int64_t epoch) = 0;
  // Drops the next `batches` batches of the epoch (resuming mid-epoch).
  virtual void skip(int64_t batches) = 0;
  virtual bool next(Batch& out) = 0;
};

// One sample's shape and the class count, known without reading the data.
struct DataSpec {
  Shape sample_shape;
  int num_classes = 0;
};

struct DataRequest {
  int64_t batch_size = 1, eval_batch_size = 1;  // per rank
  uint64_t seed = 0;
  Device device;
  // Data-parallel training: each of `ranks` processes reads a disjoint part of every
  // epoch (the training split in whole global batches, the test split all of it once).
  int rank = 0, ranks = 1;
};

struct DataSplits {
  std::unique_ptr<BatchSource> train, test;
  DataSpec spec;
};

// A data set's two entry points, both given the config's "data" section.
struct DataFactory {
  std::function<DataSpec(const nlohmann::json& data)> describe;
  std::function<DataSplits(const nlohmann::json& data, const DataRequest& request)> open;
};
Registry<DataFactory>& data_sets();

// Builds a model from the config's "model" section for samples and classes of `data`.
using ModelFactory = std::function<nn::ModulePtr(const nlohmann::json& model, const DataSpec& data)>;
Registry<ModelFactory>& models();

}  // namespace sprout::train
