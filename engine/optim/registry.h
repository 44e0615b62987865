// Optimizers and learning-rate schedules by name, each with the options it declares
// (the config's "optimizer" and "schedule" sections). The schedule owns the learning
// rate: it is built from optimizer.lr (scaled by the global batch when
// optimizer.lr_scale_batch is set) and hands the optimizer each step's value.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/registry.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"

namespace sprout::optim {

using OptimizerFactory =
    std::function<std::unique_ptr<Optimizer>(const nlohmann::json& optimizer, std::vector<nn::ParamRef> params)>;
const Registry<OptimizerFactory>& optimizers();

// Options every optimizer entry shares: name, lr, lr_scale_batch.
struct LearningRateOptions {
  std::string name;
  double lr = 0.05;
  int64_t lr_scale_batch = 0;
};
const Options<LearningRateOptions>& learning_rate_options();
// The peak learning rate of a run with global batch `batch`.
double peak_lr(const nlohmann::json& optimizer, int64_t batch);

struct ScheduleContext {
  double base_lr = 0.1;
  int64_t steps_per_epoch = 1, total_steps = 1;
};
using ScheduleFactory = std::function<Schedule(const nlohmann::json& schedule, const ScheduleContext& ctx)>;
const Registry<ScheduleFactory>& schedules();

// The whole "optimizer" and "schedule" sections' defaults, from the declared options.
nlohmann::json optimizer_defaults();
nlohmann::json schedule_defaults();

}  // namespace sprout::optim
