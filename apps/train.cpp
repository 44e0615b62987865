// `sprout train`: the run contract of DESIGN.md. Builds data, model, optimizer,
// schedule and sparsifier from the config, trains with progress lines, evaluates
// each epoch, and writes metrics.jsonl, summary.json and checkpoint.safetensors
// (temporary file, then rename) into the output folder.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/commands.h"
#include "apps/run_state.h"
#include "data/loader.h"
#include "data/registry.h"
#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/nn/init.h"
#include "engine/ops/deferred.h"
#include "engine/ops/loss.h"
#include "engine/sparsity/factory.h"
#include "models/models.h"

namespace sprout::app {

using io::Json;
namespace fs = std::filesystem;

namespace {

std::string fmt_seconds(double s) {
  char buf[64];
  if (s < 0 || !std::isfinite(s)) return "?";
  int64_t t = (int64_t)s;
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", (long)(t / 3600), (long)(t % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", (long)(t / 60), (long)(t % 60));
  return buf;
}

struct EvalResult {
  double loss = 0, accuracy = 0, top5 = 0;
  int64_t samples = 0;
};

EvalResult evaluate(nn::Module& model, data::DataLoader& loader, int64_t epoch) {
  autograd::NoGradGuard ng;
  MemoryScope ms(MemCategory::Activations);
  model.eval();
  loader.start_epoch(epoch);
  data::Batch b;
  double loss_sum = 0;
  int64_t correct = 0, correct5 = 0, n = 0;
  while (loader.next(b)) {
    Tensor logits = model.forward(b.x);
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
  return r;
}

}  // namespace

int run_train(const TrainArgs& a) {
  auto t_start = std::chrono::steady_clock::now();
  Json cfg = io::load_config(a.config, a.sets);
  Device dev = parse_device(a.device);
  const Json& tc = cfg["train"];
  int threads = tc["threads"].get<int>();
  if (threads > 0) omp_set_num_threads(threads);
  uint64_t seed = tc["seed"].get<uint64_t>();
  nn::init_rng().seed_with(seed);

  // Data.
  const Json& dcfg = cfg["data"];
  std::string dname = dcfg["name"].get<std::string>(), droot = dcfg["root"].get<std::string>();
  Json dopt = dcfg["options"];
  if ((dname == "fashion-mnist" || dname == "mnist") && !dopt.contains("flatten"))
    dopt["flatten"] = cfg["model"]["name"].get<std::string>() == "mlp";
  auto train_ds = data::make_dataset(dname, droot, "train", dopt);
  Json test_opt = dopt;
  if (dname == "imagenet" || dname == "cifar10" || dname == "cifar100") test_opt["augment"] = false;
  auto test_ds = data::make_dataset(dname, droot, "test", test_opt);
  int64_t batch = tc["batch_size"].get<int64_t>();
  SPROUT_CHECK(batch > 0, "train.batch_size must be positive, got ", batch);
  int workers = dcfg["workers"].get<int>(), prefetch = dcfg["prefetch"].get<int>();
  data::DataLoader train_loader(train_ds, batch, /*shuffle=*/true, /*drop_last=*/false, seed,
                                workers, prefetch, dev);
  data::DataLoader test_loader(test_ds, tc["eval_batch_size"].get<int64_t>(), false, false, seed,
                               workers, prefetch, dev);

  // Model, sparsity, optimizer.
  nn::ModulePtr model = models::build(cfg["model"], train_ds->sample_shape(), train_ds->num_classes());
  RunState run(cfg, model, train_loader.batches_per_epoch());
  run.build(dev);

  fs::create_directories(a.out);
  std::string ckpt = (fs::path(a.out) / "checkpoint.safetensors").string();
  if (!a.resume.empty()) run.load_checkpoint(a.resume);
  std::ofstream metrics((fs::path(a.out) / "metrics.jsonl").string(),
                        a.resume.empty() ? std::ios::trunc : std::ios::app);
  SPROUT_CHECK(metrics.good(), "cannot write ", (fs::path(a.out) / "metrics.jsonl").string());

  int64_t epochs = tc["epochs"].get<int64_t>();
  int64_t max_steps = tc["max_steps"].get<int64_t>();
  int64_t log_every = std::max<int64_t>(1, tc["log_every"].get<int64_t>());
  double smoothing = tc["label_smoothing"].get<double>();
  int64_t spe = train_loader.batches_per_epoch();
  int64_t total = run.total_steps;
  if (!a.quiet)
    std::fprintf(stderr, "sprout train: %s on %s, %ld epochs x %ld steps, %s, density %.4f\n",
                 cfg["model"]["name"].get<std::string>().c_str(), dev.str().c_str(), (long)epochs,
                 (long)spe, cfg["sparsity"]["method"].get<std::string>().c_str(), run.density());

  EvalResult last_eval;
  bool stopped = false;
  double train_seconds = 0;
  int64_t samples_seen = 0;
  while (run.epoch < epochs && !stopped) {
    train_loader.start_epoch(run.epoch);
    if (run.batch_in_epoch > 0) train_loader.skip(run.batch_in_epoch);
    auto t_epoch = std::chrono::steady_clock::now();
    auto t_log = t_epoch;
    int64_t samples_since_log = 0;
    data::Batch b;
    while (train_loader.next(b)) {
      bool log_now = (run.step + 1) % log_every == 0 || run.batch_in_epoch + 1 == spe;
      double loss_value = run.train_step(b, smoothing, log_now);
      samples_since_log += b.size();
      samples_seen += b.size();
      ++run.batch_in_epoch;
      for (auto& ev : run.sparsifier->take_events())
        metrics << Json{{"event", "topology"}, {"step", ev.step}, {"layer", ev.layer},
                        {"dropped", ev.dropped}, {"grown", ev.grown}, {"nnz", ev.nnz},
                        {"density", ev.density}}.dump() << "\n";
      if (log_now) {
        if (!std::isfinite(loss_value))
          SPROUT_FAIL("loss is ", loss_value, " at step ", run.step, " (epoch ", run.epoch + 1,
                      "); stopping without overwriting the checkpoint");
        auto now = std::chrono::steady_clock::now();
        double dt = std::chrono::duration<double>(now - t_log).count();
        double sps = dt > 0 ? (double)samples_since_log / dt : 0;
        double left_steps = (double)((max_steps > 0 ? std::min(max_steps, total) : total) - run.step);
        double eta = sps > 0 ? left_steps * (double)batch / sps : -1;
        metrics << Json{{"step", run.step}, {"epoch", run.epoch + 1}, {"loss", loss_value},
                        {"lr", run.optimizer->lr}, {"samples_per_second", sps}}.dump() << "\n";
        metrics.flush();
        if (!a.quiet)
          std::fprintf(stderr, "epoch %ld/%ld step %ld/%ld loss %.4f lr %.4g %.0f samples/s ETA %s\n",
                       (long)run.epoch + 1, (long)epochs, (long)run.step, (long)total, loss_value,
                       run.optimizer->lr, sps, fmt_seconds(eta).c_str());
        t_log = now;
        samples_since_log = 0;
      }
      if (max_steps > 0 && run.step >= max_steps) { stopped = true; break; }
    }
    double epoch_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    train_seconds += epoch_seconds;
    bool epoch_done = run.batch_in_epoch >= spe;
    if (epoch_done) {
      run.sparsifier->end_of_epoch(run.epoch);
      for (auto& ev : run.sparsifier->take_events())
        metrics << Json{{"event", "topology"}, {"step", ev.step}, {"layer", ev.layer},
                        {"dropped", ev.dropped}, {"grown", ev.grown}, {"nnz", ev.nnz},
                        {"density", ev.density}}.dump() << "\n";
      ++run.epoch;
      run.batch_in_epoch = 0;
    }
    last_eval = evaluate(*model, test_loader, 0);
    metrics << Json{{"epoch", run.epoch}, {"step", run.step}, {"test_accuracy", last_eval.accuracy},
                    {"test_loss", last_eval.loss}, {"test_top5", last_eval.top5}, {"epoch_seconds", epoch_seconds},
                    {"density", run.density()}}.dump() << "\n";
    metrics.flush();
    if (!a.quiet)
      std::fprintf(stderr, "epoch %ld done in %.1fs: test accuracy %.4f, test loss %.4f, density %.4f\n",
                   (long)run.epoch, epoch_seconds, last_eval.accuracy, last_eval.loss, run.density());
    if (tc["checkpoint_every_epoch"].get<bool>() || stopped || run.epoch >= epochs)
      run.save_checkpoint(ckpt);
  }
  run.sparsifier->finish();
  run.save_model((fs::path(a.out) / "model.safetensors").string());

  double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  Json summary = run.summary();
  summary["test_accuracy"] = last_eval.accuracy;
  summary["test_loss"] = last_eval.loss;
  summary["test_top5"] = last_eval.top5;
  summary["epochs_completed"] = run.epoch;
  summary["steps"] = run.step;
  summary["device"] = dev.is_cuda() ? "cuda:" + device_name(dev) : "cpu";
  summary["time"] = {{"seconds_total", total_seconds}, {"seconds_training", train_seconds},
                     {"samples_per_second", train_seconds > 0 ? (double)samples_seen / train_seconds : 0.0},
                     {"seconds_per_epoch", run.epoch > 0 && samples_seen > 0
                                                ? train_seconds * (double)(spe * batch) / (double)samples_seen
                                                : 0.0}};
  nlohmann::json method = run.sparsifier->summary();
  if (!method.is_null() && !method.empty()) summary["method"] = method;
  summary["config"] = cfg;
  std::string sp = (fs::path(a.out) / "summary.json").string();
  {
    std::ofstream f(sp + ".tmp");
    f << summary.dump(2) << "\n";
    SPROUT_CHECK(f.good(), "cannot write ", sp);
  }
  fs::rename(sp + ".tmp", sp);
  if (!a.quiet)
    std::fprintf(stderr, "done: test accuracy %.4f, %ld steps, %.1f s; wrote %s\n", last_eval.accuracy,
                 (long)run.step, total_seconds, a.out.c_str());
  return 0;
}

}  // namespace sprout::app
