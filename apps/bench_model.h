// The models `sprout memory` and `sprout bench step` measure: a config for a named
// model (or a training config's own), the sample it takes, and random batches.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "engine/train/data_source.h"

namespace sprout::app {

struct BenchModel {
  nlohmann::json cfg;     // a resolved config
  train::DataSpec data;   // sample shape and classes
};

// A named model on random data: the MLP on 784 inputs and 10 classes; CNNs on
// 3 x image_size x image_size, with the ImageNet stem and 1000 classes from 64 pixels up.
BenchModel bench_model(const std::string& name, int64_t image_size);
// A training config's own model, method and data shape (the data set's description;
// no data is read).
BenchModel config_model(const std::string& config_path);

// A random batch (normal inputs, uniform labels), category "data".
Batch random_batch(const train::DataSpec& data, int64_t batch, Device dev, uint64_t seed);

}  // namespace sprout::app
