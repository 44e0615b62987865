// The epoch loop, evaluation and the run folder's files.
#include "engine/train/trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/core/threads.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/deferred.h"
#include "engine/ops/finite.h"
#include "engine/ops/loss.h"
#include "engine/train/health.h"
#include "engine/train/report.h"

namespace sprout::train {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

EvalResult evaluate(nn::Module& model, BatchSource& source) {
  autograd::NoGradGuard ng;
  MemoryScope ms(MemCategory::Activations);
  model.eval();
  source.start_epoch(0);
  Batch b;
  double loss_sum = 0;
  int64_t correct = 0, correct5 = 0, n = 0;
  Tensor non_finite;  // made on the first batch's device; read once, after the pass
  while (source.next(b)) {
    Tensor logits = model.forward(b.x);
    if (!non_finite.defined()) non_finite = ops::make_finite_flag(logits.device());
    ops::mark_non_finite(logits, 0, non_finite);
    Tensor loss = ops::cross_entropy(logits, b.y, 0.0);
    loss_sum += loss.item() * (double)b.size();
    correct += ops::count_correct(logits, b.y, 1);
    if (logits.size(1) > 5) correct5 += ops::count_correct(logits, b.y, 5);
    n += b.size();
    ops::check_deferred();  // synchronised by the reads above
  }
  model.train();
  EvalResult r;
  r.samples = n;
  r.loss = n ? loss_sum / (double)n : 0;
  r.accuracy = n ? (double)correct / (double)n : 0;
  r.top5 = n ? (double)correct5 / (double)n : 0;
  // NaN logits win no comparison, so they would count as correct: report NaN instead.
  if (non_finite.defined() && ops::read_flag(non_finite) >= 0)
    r.loss = r.accuracy = r.top5 = std::numeric_limits<double>::quiet_NaN();
  return r;
}

Trainer::Trainer(const Json& cfg, Device device, const std::string& out_dir, bool quiet)
    : cfg_(cfg), device_(device), out_(out_dir), quiet_(quiet || !dist::world().is_root()),
      folder_(dist::world().is_root() ? out_dir : std::string()), writer_(dist::world().is_root()) {
  if (!quiet_)
    for (const auto& f : folder_.removed())
      std::fprintf(stderr, "sprout train: removed %s, left in %s by a run that did not finish writing it\n",
                   f.c_str(), out_.c_str());
  const TrainOptions t = train_options().read(cfg["train"], "train.");
  if (t.threads > 0) set_cpu_threads((int)t.threads);
  adapt_threads_ = t.adapt_threads && device.is_cpu();
  const DataOptions d = data_options().read(cfg["data"], "data.");
  const dist::Communicator& comm = dist::world();
  DataRequest req{t.batch_size, t.eval_batch_size, (uint64_t)t.seed, device, comm.rank(), comm.size()};
  data_ = data_sets().at(d.name).make.open(cfg["data"], req);
  run_ = std::make_unique<Run>(cfg, data_.spec, data_.train->batches_per_epoch(), device);
}

void Trainer::resume(const std::string& checkpoint) {
  io::RunCounters c =
      io::load_checkpoint(checkpoint, *run_->model, *run_->optimizer, *run_->sparsifier, device_, cfg_);
  SPROUT_CHECK(c.ranks == run_->comm->size(), "checkpoint ", checkpoint, " was written by a run of ", c.ranks,
               " ranks; resume it with as many (mpirun -np ", c.ranks, "), not ", run_->comm->size());
  run_->step_count = c.step;
  run_->epoch = c.epoch;
  run_->batch_in_epoch = c.batch_in_epoch;
  resumed_ = true;
}

void Trainer::write_events() {
  for (auto& ev : run_->sparsifier->take_events())
    record(Json{{"event", "topology"}, {"step", ev.step}, {"layer", ev.layer}, {"dropped", ev.dropped},
                        {"grown", ev.grown}, {"nnz", ev.nnz}, {"density", ev.density}});
}

void Trainer::log_step(double loss, double dt, int64_t samples, int64_t steps) {
  Run& r = *run_;
  const double sps = dt > 0 ? (double)samples / dt : 0;
  const int64_t last = r.opt.max_steps > 0 ? std::min(r.opt.max_steps, r.total_steps) : r.total_steps;
  const double eta = sps > 0 ? (double)(last - r.step_count) * (double)r.global_batch() / sps : -1;
  const double lr = r.schedule.lr_at(r.step_count - 1);  // the rate of the step just taken
  Json line{{"step", r.step_count}, {"epoch", r.epoch + 1}, {"loss", loss}, {"lr", lr},
            {"samples_per_second", sps}, {"flops_per_step", flops_report(log_flops_, (double)steps)}};
  if (r.sync) {
    int64_t sent_steps = 0;
    const dist::ReduceBytes b = r.sync->take_bytes(&sent_steps);
    allreduce_bytes_ += b;
    allreduce_steps_ += sent_steps;
    line["allreduce"] = allreduce_report(b, sent_steps);
  }
  record(line);
  log_flops_ = FlopCount();
  if (!quiet_)
    std::fprintf(stderr, "epoch %ld/%ld step %ld/%ld loss %.4f lr %.4g %.0f samples/s ETA %s\n",
                 (long)r.epoch + 1, (long)r.opt.epochs, (long)r.step_count, (long)r.total_steps, loss, lr, sps,
                 format_duration(eta).c_str());
}

// One pass over the rest of the current epoch; true when train.max_steps stopped it.
bool Trainer::train_epoch(double* epoch_seconds) {
  Run& r = *run_;
  data_.train->start_epoch(r.epoch);
  if (r.batch_in_epoch > 0) data_.train->skip(r.batch_in_epoch);
  const auto t_epoch = Clock::now();
  auto t_log = t_epoch;
  int64_t samples_since_log = 0, steps_since_log = 0;
  bool stopped = false;
  Batch b;
  while (data_.train->next(b)) {
    const bool log_now = (r.step_count + 1) % r.opt.log_every == 0 || r.batch_in_epoch + 1 == r.steps_per_epoch;
    const FlopCount f0 = flops_counted();
    const double loss = r.step(b, log_now);
    if (adapt_threads_) adapt_cpu_threads();
    const FlopCount step_flops = flops_counted() - f0;
    train_flops_ += step_flops;
    log_flops_ += step_flops;
    ++flop_steps_;
    samples_since_log += b.size() * r.comm->size();  // every rank takes an equal part
    ++steps_since_log;
    samples_seen_ += b.size() * r.comm->size();
    ++r.batch_in_epoch;
    write_events();
    if (log_now) {
      log_step(loss, seconds_since(t_log), samples_since_log, steps_since_log);
      steps_since_log = 0;
      t_log = Clock::now();
      samples_since_log = 0;
    }
    if (r.opt.max_steps > 0 && r.step_count >= r.opt.max_steps) { stopped = true; break; }
  }
  *epoch_seconds = seconds_since(t_epoch);
  train_seconds_ += *epoch_seconds;
  return stopped;
}

void Trainer::end_epoch(bool stopped, double epoch_seconds) {
  Run& r = *run_;
  if (r.batch_in_epoch >= r.steps_per_epoch) {
    r.sparsifier->end_of_epoch(r.epoch);
    write_events();
    ++r.epoch;
    r.batch_in_epoch = 0;
  }
  r.check_health();  // the GPU's flag, read where the host waits for evaluation anyway
  last_eval_ = evaluate(*r.model, *data_.test);
  if (r.comm->size() > 1) {  // each rank evaluated its part of the test split
    double sums[4] = {last_eval_.loss * (double)last_eval_.samples, last_eval_.accuracy * (double)last_eval_.samples,
                      last_eval_.top5 * (double)last_eval_.samples, (double)last_eval_.samples};
    r.comm->all_reduce(sums, 4, dist::ReduceOp::Sum);
    last_eval_.samples = (int64_t)sums[3];
    const double n = sums[3] > 0 ? sums[3] : 1.0;
    last_eval_.loss = sums[0] / n;
    last_eval_.accuracy = sums[1] / n;
    last_eval_.top5 = sums[2] / n;
  }
  if (!std::isfinite(last_eval_.loss) || !std::isfinite(last_eval_.accuracy))
    SPROUT_FAIL("evaluation after step ", r.step_count,
                " gives non-finite logits; the run stops and no checkpoint or model is written");
  record(Json{{"epoch", r.epoch}, {"step", r.step_count}, {"test_accuracy", last_eval_.accuracy},
                      {"test_loss", last_eval_.loss}, {"test_top5", last_eval_.top5},
                      {"epoch_seconds", epoch_seconds}, {"density", r.density()}});
  if (!quiet_)
    std::fprintf(stderr, "epoch %ld done in %.1fs: test accuracy %.4f, test loss %.4f, density %.4f\n",
                 (long)r.epoch, epoch_seconds, last_eval_.accuracy, last_eval_.loss, r.density());
  if (r.opt.checkpoint_every_epoch || stopped || r.epoch >= r.opt.epochs) save_checkpoint();
}

// Only finite parameters reach the file, and a failed write leaves no temporary behind.
void Trainer::save_checkpoint() {
  if (!writer_) return;
  Run& r = *run_;
  const std::string path = folder_.file("checkpoint.safetensors");
  check_finite_model(*r.model, "step " + std::to_string(r.step_count) + ": not writing " + path);
  without_leftovers(path, [&] {
    io::save_checkpoint(path, *r.model, *r.optimizer, *r.sparsifier,
                        io::RunCounters{r.step_count, r.epoch, r.batch_in_epoch, r.comm->size()}, cfg_);
  });
}

Json Trainer::save_model_and_summary(double total_seconds) {
  if (!writer_) return summary(total_seconds);
  Run& r = *run_;
  const std::string path = folder_.file("model.safetensors");
  check_finite_model(*r.model, "step " + std::to_string(r.step_count) + ": not writing " + path);
  without_leftovers(path, [&] { io::save_model(path, *r.model); });
  Json s = summary(total_seconds);
  write_file_atomic(folder_.file("summary.json"), s.dump(2) + "\n");
  return s;
}

bool Trainer::finished() const {
  const Run& r = *run_;
  return r.epoch >= r.opt.epochs || (r.opt.max_steps > 0 && r.step_count >= r.opt.max_steps);
}

Json Trainer::fit() {
  const auto t_start = Clock::now();
  Run& r = *run_;
  if (resumed_ && finished()) {
    std::fprintf(stderr, "sprout train: the resumed run is already finished (step %ld, epoch %ld of %ld); "
                 "nothing to train, nothing in %s changed\n", (long)r.step_count, (long)r.epoch,
                 (long)r.opt.epochs, out_.c_str());
    return Json::object();
  }
  if (writer_) metrics_.open(folder_.file("metrics.jsonl"), resumed_);
  if (!quiet_)
    std::fprintf(stderr, "sprout train: %s on %s, %ld epochs x %ld steps, %s, density %.4f\n",
                 cfg_["model"]["name"].get<std::string>().c_str(), device_.str().c_str(), (long)r.opt.epochs,
                 (long)r.steps_per_epoch, cfg_["sparsity"]["method"].get<std::string>().c_str(), r.density());
  bool stopped = false;
  while (r.epoch < r.opt.epochs && !stopped) {
    double epoch_seconds = 0;
    stopped = train_epoch(&epoch_seconds);
    end_epoch(stopped, epoch_seconds);
  }
  r.sparsifier->finish();
  Json s = save_model_and_summary(seconds_since(t_start));
  if (!quiet_)
    std::fprintf(stderr, "done: test accuracy %.4f, %ld steps, %.1f s; wrote %s\n", last_eval_.accuracy,
                 (long)r.step_count, seconds_since(t_start), out_.c_str());
  return s;
}

Json Trainer::summary(double total_seconds) const {
  const Run& r = *run_;
  Json s = layer_report(*r.model);
  s["density"] = r.density();
  s["memory"] = memory_report(*r.model, r.optimizer.get(), device_);
  s["test_accuracy"] = last_eval_.accuracy;
  s["test_loss"] = last_eval_.loss;
  s["test_top5"] = last_eval_.top5;
  s["epochs_completed"] = r.epoch;
  s["steps"] = r.step_count;
  s["device"] = device_.is_cuda() ? "cuda:" + device_name(device_) : "cpu";
  const double per_epoch = r.epoch > 0 && samples_seen_ > 0
                               ? train_seconds_ * (double)(r.steps_per_epoch * r.global_batch()) / (double)samples_seen_
                               : 0.0;
  s["time"] = {{"seconds_total", total_seconds}, {"seconds_training", train_seconds_},
               {"samples_per_second", train_seconds_ > 0 ? (double)samples_seen_ / train_seconds_ : 0.0},
               {"seconds_per_epoch", per_epoch}};
  s["flops_per_step"] = flops_report(train_flops_, (double)flop_steps_);
  s["batch"] = {{"per_rank", r.opt.batch_size}, {"global", r.global_batch()}, {"ranks", r.comm->size()}};
  if (r.sync) {
    Json d = allreduce_report(allreduce_bytes_, allreduce_steps_);
    d["backend"] = r.comm->backend();
    s["data_parallel"] = d;
  }
  Json method = r.sparsifier->summary();
  if (!method.is_null() && !method.empty()) s["method"] = method;
  s["config"] = cfg_;
  return s;
}

void Trainer::record(const Json& line) {
  if (writer_) metrics_.write(line);
}

// Bytes a step all-reduced (gradients, and growth's dense gradients on update steps)
// beside what dense data-parallel training of the same model sends.
Json Trainer::allreduce_report(const dist::ReduceBytes& b, int64_t steps) const {
  const double n = steps > 0 ? (double)steps : 1.0;
  return Json{{"bytes_per_step", (double)b.total() / n}, {"gradient_bytes_per_step", (double)b.gradients / n},
              {"growth_bytes_per_step", (double)b.growth / n}, {"dense_ddp_bytes_per_step", (double)b.dense_ddp / n},
              {"fraction_of_dense", b.dense_ddp > 0 ? (double)b.total() / (double)b.dense_ddp : 0.0},
              {"collectives_per_step", (double)b.collectives / n}};
}

}  // namespace sprout::train
