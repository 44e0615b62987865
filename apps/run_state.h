// Everything one training run holds between steps (model, optimizer, schedule,
// sparsifier, counters), with the step itself, checkpoints and the summary's
// model/memory sections. Shared by `sprout train` and `sprout memory`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "data/dataset.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/sparsity/sparsifier.h"

namespace sprout::app {

class RunState {
 public:
  RunState(const nlohmann::json& cfg, nn::ModulePtr model, int64_t steps_per_epoch);
  // Sparsifies the model per config, moves it to `dev`, makes optimizer and schedule.
  void build(Device dev);
  // One optimisation step; returns the loss when `read_loss` (a device sync), else NaN.
  double train_step(const data::Batch& b, double label_smoothing, bool read_loss);
  void save_checkpoint(const std::string& path);
  // The model alone (parameters with their sparse structure, buffers), as it is after
  // the method's finish() (polarize's compacted network, for one): safetensors.
  void save_model(const std::string& path);
  void load_checkpoint(const std::string& path);
  // Density over sparse layers (1 when none).
  double density();
  // "layers", "density", "memory" and "parameters" sections of summary.json.
  nlohmann::json summary();

  nlohmann::json cfg;
  nn::ModulePtr model;
  std::unique_ptr<optim::Optimizer> optimizer;
  optim::Schedule schedule;
  sparsity::SparsifierPtr sparsifier;
  Device device;
  int64_t steps_per_epoch = 1, total_steps = 1;
  int64_t step = 0, epoch = 0, batch_in_epoch = 0;
};

// A random batch (normal inputs, uniform labels) for memory and step benchmarks.
data::Batch random_batch(const Shape& sample, int classes, int64_t batch, Device dev, uint64_t seed);

// Model config and sample shape for a named model in benchmarks: the MLP on 784
// inputs, CNNs on 3 x image_size x image_size (ImageNet stem and 1000 classes at 64+).
struct BenchModel {
  nlohmann::json cfg;
  Shape sample;
  int classes = 10;
};
BenchModel bench_model(const std::string& name, int64_t image_size);

// Memory figures for summary.json: allocator per category plus dense equivalents.
nlohmann::json memory_report(nn::Module& model, optim::Optimizer* opt, Device dev);

}  // namespace sprout::app
