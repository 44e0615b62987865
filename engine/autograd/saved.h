// What a backward node keeps of an input: the tensor itself, or -- when the input is
// the output of a node that can rebuild it (a fused BatchNorm + ReLU after its kept
// input) -- that node, asked for the tensor again when backward needs it. This is how
// an activation is stored once: the conv after a BatchNorm + ReLU keeps nothing new.
// Also the recomputation flag activation checkpointing sets while it re-runs a block.
#pragma once
#include <memory>

#include "engine/autograd/node.h"

namespace sprout::autograd {

class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& x);
  // The saved tensor; a rebuilt one is new each call (free it when done).
  Tensor get() const;
  bool rebuilt() const { return producer_ != nullptr; }
  bool defined() const { return t_.defined() || producer_ != nullptr; }

 private:
  Tensor t_;
  std::shared_ptr<Node> producer_;
  Shape shape_;
};

// True while a checkpointed forward is being recomputed inside backward: ops with
// side effects (BatchNorm's running statistics) skip them, since the first forward
// already made them.
bool recomputing();
class RecomputeGuard {
 public:
  RecomputeGuard();
  ~RecomputeGuard();
  RecomputeGuard(const RecomputeGuard&) = delete;
  RecomputeGuard& operator=(const RecomputeGuard&) = delete;

 private:
  bool saved_;
};

}  // namespace sprout::autograd
