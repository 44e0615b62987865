// The interface every sparse-training method implements. The training loop calls
// the hooks in this order each step: before_forward (e.g. ask sparse layers for their
// dense gradient on an update step), forward/backward, before_step (true skips the
// optimizer step, as RigL does on update steps), optimizer step, after_step; and
// end_of_epoch after each epoch. Topology changes are reported as events for
// metrics.jsonl.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/rng.h"
#include "engine/nn/module.h"
#include "engine/ops/grow.h"
#include "engine/optim/optimizer.h"

namespace sprout::sparsity {

struct TrainContext {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  int64_t total_steps = 1;
  int64_t steps_per_epoch = 1;
  int64_t epochs = 1;
};

struct UpdateEvent {
  int64_t step = 0;
  std::string layer;
  int64_t dropped = 0, grown = 0, nnz = 0;
  double density = 0;
};

class Sparsifier {
 public:
  virtual ~Sparsifier() = default;
  virtual std::string name() const = 0;
  virtual void before_forward(int64_t /*step*/) {}
  virtual bool before_step(int64_t /*step*/) { return false; }
  virtual void after_step(int64_t /*step*/) {}
  virtual void end_of_epoch(int64_t /*epoch*/) {}
  // Whether make_sparsifier makes the model's layers sparse at all: not for dense
  // training, nor for polarize (it prunes whole units and keeps its weights dense).
  virtual bool makes_layers_sparse() const { return true; }
  // The density the method starts from, given sparsity.density (`configured`): that
  // for most, 1.0 for methods that prune from dense; and the positions a sparse layer
  // starts with.
  virtual double initial_density(double configured) const { return configured; }
  // Whether a layer the distribution makes dense is still stored sparse (at density 1),
  // so that later pruning can reach it (GraNet, GMP); otherwise it stays a dense layer.
  virtual bool store_dense_layers_sparse() const { return false; }
  // Whether the method works on block-sparse (BSR) layers: its counts, masks and
  // positions are then in blocks, and magnitudes and gradients are block sums.
  virtual bool supports_blocks() const { return false; }
  // Sorted flat positions for layer `index` (rows x cols) holding `nnz` entries.
  virtual std::vector<int64_t> init_positions(size_t index, int64_t rows, int64_t cols, int64_t nnz);
  // Extra loss terms (gates' polarization); undefined when the method adds none.
  virtual Tensor extra_loss() { return Tensor(); }
  // Work after training (physical removal of closed units).
  virtual void finish() {}
  // Method-specific results for summary.json (empty when the method has none).
  virtual nlohmann::json summary() const { return {}; }
  // Method state for checkpoints (RNG, counters).
  virtual nlohmann::json state() const { return {{"rng", rng.state()}}; }
  virtual void load_state(const nlohmann::json& s) {
    if (s.contains("rng")) rng.set_state(s["rng"].get<std::array<uint64_t, 4>>());
  }
  std::vector<UpdateEvent> take_events() { return std::move(events_); }

  TrainContext ctx;
  Rng rng;
  // How growth by gradient ranks (sparsity.grow, grow_budget_bytes, grow_candidates).
  ops::GrowConfig grow;

 protected:
  std::vector<UpdateEvent> events_;
};

using SparsifierPtr = std::unique_ptr<Sparsifier>;

}  // namespace sprout::sparsity
