// One training run's state between steps: the model with its sparsity method,
// optimizer and schedule, built from the config's sections, and the step itself. Every
// step's loss marks a health flag on its device when it is NaN or infinite (no host
// sync); the CPU checks it at once, the trainer reads it where it waits anyway.
#pragma once
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/dist/gradient_sync.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/sparsity/sparsifier.h"
#include "engine/train/data_source.h"
#include "engine/train/options.h"

namespace sprout::train {

class Run {
 public:
  // Builds the model (init RNG seeded by train.seed), sparsifies it by the configured
  // method, moves it to `device`, and makes optimizer and schedule for
  // `steps_per_epoch` x train.epochs steps. `cfg` is a resolved config (load_config).
  Run(const nlohmann::json& cfg, const DataSpec& data, int64_t steps_per_epoch, Device device);

  // One optimisation step; the loss when `read_loss` (a device sync), else NaN. Throws
  // when the loss is not finite, at once on the CPU and on read steps on the GPU.
  double step(const Batch& b, bool read_loss);
  // Throws "loss is not finite at step N (epoch E)" once any step's loss was NaN or
  // infinite. Reads the flag: a device sync on the GPU.
  void check_health() const;
  // The learning rate the schedule gives the current step.
  double lr() const { return schedule.lr_at(step_count); }
  // Stored over dense-equivalent weights of the sparse layers (1 when none).
  double density() const;
  // Samples one step trains on over all ranks (train.batch_size is per rank).
  int64_t global_batch() const { return opt.batch_size * comm->size(); }

  nlohmann::json cfg;
  TrainOptions opt;
  Device device;
  nn::ModulePtr model;
  std::unique_ptr<optim::Optimizer> optimizer;
  optim::Schedule schedule;
  sparsity::SparsifierPtr sparsifier;
  int64_t steps_per_epoch = 1, total_steps = 1;
  int64_t step_count = 0, epoch = 0, batch_in_epoch = 0;
  // The first step (1-based) whose loss was not finite, or -1 (ops/finite.h's flag).
  Tensor health;
  // The process's ranks (dist::world()); `sync` averages gradients when there are several.
  dist::Communicator* comm = nullptr;
  std::unique_ptr<dist::GradientSync> sync;
};

}  // namespace sprout::train
