// Data-parallel gradients. After the backward pass every gradient becomes its mean over
// the ranks: a sparse layer's nnz-length value gradient, a dense layer's dense one,
// packed into buckets of about `bucket_bytes` so that small tensors (biases, norms)
// share one collective. The buckets go after the whole backward pass (no overlap with
// it yet). On topology update steps the dense gradient a growth rule asks a sparse layer
// for is averaged before the rule sees it, so every rank makes the same decision; after
// every step a hash of each sparse layer's structure is compared across the ranks.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/dist/communicator.h"
#include "engine/nn/module.h"

namespace sprout::dist {

// Bytes one step sends through all-reduce, beside what dense data-parallel training of
// the same model would send (every sparse layer's dense gradient).
struct ReduceBytes {
  int64_t gradients = 0;   // value gradients (nnz) and dense layers' gradients
  int64_t growth = 0;      // dense gradients of sparse layers for regrowth (update steps)
  int64_t dense_ddp = 0;   // the same model trained dense
  int64_t collectives = 0;
  int64_t total() const { return gradients + growth; }
  ReduceBytes& operator+=(const ReduceBytes& o);
};

// The bytes one step's gradient all-reduce sends for `params` (float32), without
// sending anything: what `sprout bench allreduce` and the metrics report.
ReduceBytes gradient_bytes(const std::vector<nn::ParamRef>& params);

// A 64-bit hash of a sparse layer's structure: shape, block, row_ptr and col_idx.
uint64_t structure_hash(const sparse::SparseParameter& p);

class GradientSync {
 public:
  explicit GradientSync(Communicator& comm, int64_t bucket_bytes = int64_t(25) << 20);
  // Wraps the dense-gradient hooks a method set for this step (call after its
  // before_forward, before the forward pass captures them), and drops the gradient-factor
  // hooks set beside them: with several ranks, growth ranks the averaged dense gradient
  // (one sparse layer's at a time, on update steps).
  void wrap_dense_grad_hooks(const std::vector<nn::ParamRef>& params);
  // Replaces every defined gradient of `params` by its mean over the ranks.
  void all_reduce_gradients(const std::vector<nn::ParamRef>& params);
  // On rank 0, throws naming the first sparse layer whose structure differs between
  // ranks, at `step` (the other ranks go on into their next collective, where rank 0's
  // abort ends them). Rehashes only layers whose structure tensors changed since the last call;
  // one small collective a step.
  void check_topology(const std::vector<nn::ParamRef>& params, int64_t step);
  // What the steps since the last call sent, and how many steps that was.
  ReduceBytes take_bytes(int64_t* steps);
  Communicator& comm() { return comm_; }

 private:
  struct Layer {
    std::weak_ptr<TensorImpl> row_ptr, col_idx;
    uint64_t hash = 0;
  };
  void reduce_bucket(std::vector<Tensor>& grads, int64_t numel);

  Communicator& comm_;
  int64_t bucket_bytes_;
  Tensor flat_;  // the bucket buffer, on the gradients' device
  std::vector<Layer> layers_;
  ReduceBytes bytes_;
  int64_t steps_ = 0;
};

}  // namespace sprout::dist
