// Activation checkpointing: a module's forward run without keeping anything for
// backward but its input, and run again inside backward to get its gradients. The
// training loop sets the mode for each step (train.checkpoint_activations); models
// read it where they call the modules worth checkpointing (ResNet: every residual block).
#pragma once
#include "engine/nn/module.h"

namespace sprout::nn {

enum class CheckpointMode { None, Blocks };

// The mode of the step being run on this thread (None outside a CheckpointScope).
CheckpointMode checkpoint_mode();
CheckpointMode parse_checkpoint_mode(const std::string& name);  // "none" | "blocks"

class CheckpointScope {
 public:
  explicit CheckpointScope(CheckpointMode m);
  ~CheckpointScope();
  CheckpointScope(const CheckpointScope&) = delete;
  CheckpointScope& operator=(const CheckpointScope&) = delete;

 private:
  CheckpointMode saved_;
};

// m->forward(x), keeping only x (and m) for backward. Backward runs m->forward again with
// gradients on -- BatchNorm leaves its running statistics alone that time
// (autograd::recomputing()) -- and backpropagates through it: parameters receive their
// gradients there, x its own. The forward must be deterministic (ResNet's is: no
// dropout, no random draws); the gradients are then the ones the plain call gives, bit
// for bit. Without grad mode it is m->forward(x).
Tensor checkpoint(const ModulePtr& m, const Tensor& x);

}  // namespace sprout::nn
