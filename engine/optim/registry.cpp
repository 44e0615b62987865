// The optimizer and schedule registries and their declared options.
#include "engine/optim/registry.h"

#include <cmath>

namespace sprout::optim {

namespace {

const Options<SgdOptions>& sgd_options() {
  static const Options<SgdOptions> o = Options<SgdOptions>()
      .number("momentum", &SgdOptions::momentum, 0.9, Range::closed_open(0, 1), "momentum factor (0: plain SGD)")
      .flag("nesterov", &SgdOptions::nesterov, false, "Nesterov momentum")
      .number("weight_decay", &SgdOptions::weight_decay, 0.0005, Range::closed(0, 1),
              "L2 penalty added to the gradient");
  return o;
}

const Options<AdamWOptions>& adamw_options() {
  static const Options<AdamWOptions> o = Options<AdamWOptions>()
      .number("beta1", &AdamWOptions::beta1, 0.9, Range::closed_open(0, 1), "first-moment decay")
      .number("beta2", &AdamWOptions::beta2, 0.999, Range::closed_open(0, 1), "second-moment decay")
      .number("eps", &AdamWOptions::eps, 1e-8, Range::above(0), "denominator term")
      .number("weight_decay", &AdamWOptions::weight_decay, 0.0005, Range::closed(0, 1),
              "decoupled weight decay");
  return o;
}

std::vector<OptionInfo> with_common(std::vector<OptionInfo> own) {
  std::vector<OptionInfo> all = learning_rate_options().info();
  all.insert(all.end(), own.begin(), own.end());
  return all;
}

Registry<OptimizerFactory> make_optimizers() {
  Registry<OptimizerFactory> r("optimizer.name");
  r.add({"sgd", "SGD with momentum, Nesterov and weight decay (torch.optim.SGD)",
         [](const nlohmann::json& o, std::vector<nn::ParamRef> p) -> std::unique_ptr<Optimizer> {
           return std::make_unique<Sgd>(std::move(p), sgd_options().read(o, "optimizer."));
         },
         with_common(sgd_options().info())});
  r.add({"adamw", "AdamW with decoupled weight decay (torch.optim.AdamW)",
         [](const nlohmann::json& o, std::vector<nn::ParamRef> p) -> std::unique_ptr<Optimizer> {
           return std::make_unique<AdamW>(std::move(p), adamw_options().read(o, "optimizer."));
         },
         with_common(adamw_options().info())});
  return r;
}

struct ScheduleOptions {
  std::string name;
  double warmup_epochs = 0;
  std::vector<int64_t> milestones;
  double gamma = 0.1;
};

const Options<ScheduleOptions>& schedule_options() {
  static const Options<ScheduleOptions> o = Options<ScheduleOptions>()
      .text("name", &ScheduleOptions::name, "cosine", {}, "constant, multistep or cosine")
      .number("warmup_epochs", &ScheduleOptions::warmup_epochs, 0.0, Range::at_least(0),
              "linear warm-up from lr / warm-up steps to lr over this many epochs")
      .integers("milestones", &ScheduleOptions::milestones, {}, Range::at_least(0),
                "multistep: epochs at which the rate is multiplied by gamma")
      .number("gamma", &ScheduleOptions::gamma, 0.1, Range::above(0), "multistep: factor per milestone");
  return o;
}

ScheduleFactory schedule_named(const char* name) {
  return [name](const nlohmann::json& s, const ScheduleContext& ctx) {
    ScheduleOptions o = schedule_options().read(s, "schedule.");
    Schedule sch;
    sch.name = name;
    sch.base_lr = ctx.base_lr;
    sch.steps_per_epoch = ctx.steps_per_epoch;
    sch.total_steps = ctx.total_steps;
    sch.warmup_steps = (int64_t)std::llround(o.warmup_epochs * (double)ctx.steps_per_epoch);
    sch.milestones_epochs = o.milestones;
    sch.gamma = o.gamma;
    return sch;
  };
}

Registry<ScheduleFactory> make_schedules() {
  Registry<ScheduleFactory> r("schedule.name");
  r.add({"constant", "the peak rate throughout (after any warm-up)", schedule_named("constant"),
         schedule_options().info()});
  r.add({"multistep", "the peak rate times gamma per milestone passed", schedule_named("multistep"),
         schedule_options().info()});
  r.add({"cosine", "cosine decay from the peak rate to 0 over all steps", schedule_named("cosine"),
         schedule_options().info()});
  return r;
}

}  // namespace

const Options<LearningRateOptions>& learning_rate_options() {
  static const Options<LearningRateOptions> o = Options<LearningRateOptions>()
      .text("name", &LearningRateOptions::name, "sgd", {}, "the optimizer")
      .number("lr", &LearningRateOptions::lr, 0.05, Range::above(0), "peak learning rate")
      .integer("lr_scale_batch", &LearningRateOptions::lr_scale_batch, 0, Range::at_least(0),
               "if > 0: lr is multiplied by batch_size / lr_scale_batch (the linear scaling rule)");
  return o;
}

double peak_lr(const nlohmann::json& optimizer, int64_t batch) {
  LearningRateOptions o = learning_rate_options().read(optimizer, "optimizer.");
  double lr = o.lr;
  if (o.lr_scale_batch > 0) lr *= (double)batch / (double)o.lr_scale_batch;
  return lr;
}

const Registry<OptimizerFactory>& optimizers() {
  static const Registry<OptimizerFactory> r = make_optimizers();
  return r;
}

const Registry<ScheduleFactory>& schedules() {
  static const Registry<ScheduleFactory> r = make_schedules();
  return r;
}

nlohmann::json optimizer_defaults() { return registry_defaults(optimizers(), "optimizer", {}); }
nlohmann::json schedule_defaults() { return registry_defaults(schedules(), "schedule", {}); }

}  // namespace sprout::optim
