// Building a run from its config, and the training step.
#include "engine/train/run.h"

#include <limits>

#include "engine/autograd/node.h"
#include "engine/nn/checkpoint.h"
#include "engine/nn/init.h"
#include "engine/nn/weight_draw.h"
#include "engine/ops/deferred.h"
#include "engine/ops/densify.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/finite.h"
#include "engine/ops/loss.h"
#include "engine/optim/registry.h"
#include "engine/sparse/parameter.h"
#include "engine/sparse/transpose.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/registry.h"
#include "kernels/sparse_registry.h"

namespace sprout::train {

using Json = nlohmann::json;

Run::Run(const Json& c, const DataSpec& data, int64_t spe, Device dev)
    : cfg(c), opt(train_options().read(c["train"], "train.")), device(dev), steps_per_epoch(spe) {
  SPROUT_CHECK(spe > 0, "a run needs at least one batch per epoch");
  SPROUT_CHECK(opt.epochs <= std::numeric_limits<int64_t>::max() / spe, "train.epochs ", opt.epochs, " x ", spe,
               " steps per epoch overflows the step count");
  total_steps = spe * opt.epochs;
  const uint64_t seed = (uint64_t)opt.seed;
  nn::init_rng().seed_with(seed);
  {
    // Linear weights are drawn where they are stored: a sparse layer's never exists
    // densely; make_sparsifier materialises the layers that stay dense.
    MemoryScope ms(MemCategory::Weights);
    nn::DeferDenseWeights defer;
    model = models().at(cfg["model"]["name"].get<std::string>()).make(cfg["model"], data);
  }
  const Json& sp = cfg["sparsity"];
  const sparsity::SparsifyOptions so = sparsity::read_sparsify_options(sp);
  sparse::set_keep_transposes(sparse::keep_transposes_from(so.keep_transposes));
  ops::set_dense_compute_above(so.dense_compute_above);
  if (!so.kernel.empty()) kernels::select_sparse_kernel(so.kernel);
  {
    MemoryScope ms(MemCategory::Weights);
    sparsifier = sparsity::make_sparsifier(sp, *model, seed);
  }
  model->to(dev);
  const Json& o = cfg["optimizer"];
  optimizer = optim::optimizers().at(o["name"].get<std::string>()).make(o, model->parameters());
  comm = &dist::world();
  optim::ScheduleContext sc{optim::peak_lr(o, global_batch()), steps_per_epoch, total_steps};
  schedule = optim::schedules().at(cfg["schedule"]["name"].get<std::string>()).make(cfg["schedule"], sc);
  sparsifier->ctx = sparsity::TrainContext{model.get(), optimizer.get(), total_steps, steps_per_epoch, opt.epochs};
  health = ops::make_finite_flag(dev);
  if (comm->size() > 1) {
    sync = std::make_unique<dist::GradientSync>(*comm);
    sync->check_topology(model->parameters(), -1);
  }
}

double Run::step(const Batch& b, bool read_loss) {
  sparsifier->before_forward(step_count);
  if (sync) sync->wrap_dense_grad_hooks(model->parameters());
  optimizer->zero_grad();
  Tensor loss;
  {
    MemoryScope ms(MemCategory::Activations);
    nn::CheckpointScope cs(nn::parse_checkpoint_mode(opt.checkpoint_activations));
    Tensor logits = model->forward(b.x);
    loss = ops::cross_entropy(logits, b.y, opt.label_smoothing);
    Tensor extra = sparsifier->extra_loss();
    Tensor total = extra.defined() ? ops::add(loss, extra) : loss;
    ops::mark_non_finite(total, step_count + 1, health);
    if (!device.is_cuda()) check_health();  // cheap here: stop before the update
    total.backward();
  }
  if (sync) sync->all_reduce_gradients(model->parameters());
  if (!sparsifier->before_step(step_count)) optimizer->step(schedule.lr_at(step_count));
  sparsifier->after_step(step_count);
  if (sync) sync->check_topology(model->parameters(), step_count);
  ++step_count;
  if (!read_loss) return std::numeric_limits<double>::quiet_NaN();
  double value = loss.item();  // synchronises: the GPU verdicts are ready too
  ops::check_deferred();
  check_health();
  comm->all_reduce(&value, 1, dist::ReduceOp::Sum);  // the mean over ranks: every rank reads the same steps
  return value / (double)comm->size();
}

void Run::check_health() const {
  const int64_t bad = ops::read_flag(health);
  if (bad < 0) return;
  SPROUT_FAIL("loss is not finite at step ", bad, " (epoch ", (bad - 1) / steps_per_epoch + 1,
              "); the run stops and no checkpoint or model is written");
}

double Run::density() const {
  int64_t nnz = 0, total = 0;
  for (auto& p : model->parameters())
    if (p.sparse) { nnz += p.sparse->nnz(); total += p.sparse->dense_numel(); }
  return total ? (double)nnz / (double)total : 1.0;
}

}  // namespace sprout::train
