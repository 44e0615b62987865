// The Trainer: a whole training run from a resolved config. It opens the data through
// the data-set registry, builds the Run (model, method, optimizer, schedule), and runs
// the epoch loop with progress lines (steps, loss, samples/s, ETA), evaluation after
// each epoch, and the run folder's files: metrics.jsonl (one JSON object per logged
// step, topology update and epoch), checkpoint.safetensors, model.safetensors and
// summary.json. A checkpoint resumes the run bit-identically on the CPU. The folder is
// locked for the run's life (run_folder.h); a non-finite loss or evaluation stops the
// run, and no file is ever written with a NaN or infinite parameter.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/core/flops.h"
#include "engine/train/metrics.h"
#include "engine/train/run.h"
#include "engine/train/run_folder.h"

namespace sprout::train {

struct EvalResult {
  double loss = 0, accuracy = 0, top5 = 0;
  int64_t samples = 0;
};

// Top-1/top-5 accuracy and mean loss of `model` over one pass of `source`; all three
// NaN when any logit is NaN or infinite.
EvalResult evaluate(nn::Module& model, BatchSource& source);

class Trainer {
 public:
  // `out_dir` receives the run's files; it is created and locked at once (an error
  // naming the holder when another run has it). `quiet`: no progress lines.
  Trainer(const nlohmann::json& cfg, Device device, const std::string& out_dir, bool quiet);
  // Continues from a checkpoint of the same config (counters, weights, state, RNGs).
  void resume(const std::string& checkpoint);
  // True when the counters are at the end: every epoch done, or train.max_steps reached.
  bool finished() const;
  // Trains to the end (or train.max_steps) and writes the run's files; the summary. A
  // resumed run that is already finished says so, writes nothing and returns {}.
  nlohmann::json fit();
  Run& run() { return *run_; }

 private:
  bool train_epoch(double* epoch_seconds);
  void log_step(double loss, double seconds_since_log, int64_t samples_since_log, int64_t steps_since_log);
  void write_events();
  void end_epoch(bool epoch_done, double epoch_seconds);
  void save_checkpoint();
  nlohmann::json save_model_and_summary(double total_seconds);
  nlohmann::json summary(double total_seconds) const;
  // metrics.jsonl's next record; only the first rank writes files.
  void record(const nlohmann::json& line);
  nlohmann::json allreduce_report(const dist::ReduceBytes& bytes, int64_t steps) const;

  nlohmann::json cfg_;
  Device device_;
  std::string out_;
  bool quiet_;
  bool adapt_threads_ = false;  // train.adapt_threads on the CPU
  RunFolder folder_;  // first: locked before the data is opened or anything written
  DataSplits data_;
  std::unique_ptr<Run> run_;
  MetricsLog metrics_;
  EvalResult last_eval_;
  double train_seconds_ = 0;
  FlopCount train_flops_, log_flops_;  // training steps only: the run's, and since the last log line
  int64_t flop_steps_ = 0;
  int64_t samples_seen_ = 0;  // over all ranks
  bool resumed_ = false;
  bool writer_ = true;  // this process writes the run's files (rank 0)
  dist::ReduceBytes allreduce_bytes_;  // the whole run's, and how many steps sent them
  int64_t allreduce_steps_ = 0;
};

}  // namespace sprout::train
