// Multiplicative unit modules: Gate (a hard 0/1 gate per output unit with a learned
// logit, for polarization-gated structured pruning), Gated (a layer followed by its
// gates, swapped into a parent's child list), and SharedScaled (another layer's
// output times a learned scalar, for EAST's weight sharing across residual blocks).
#pragma once
#include "engine/nn/module.h"

namespace sprout::nn {

class Gate : public Module {
 public:
  // One logit per unit, drawn from U(logit_lo, logit_hi) with the init RNG.
  Gate(int64_t units, double logit_lo, double logit_hi);
  // x [N, C, ...]; C == units, or units == 1 (one gate for everything).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Gate"; }
  // Units whose gate is open (logit > 0, i.e. sigmoid > 0.5). Reads back from a GPU.
  int64_t open_units() const;
  int64_t units;
  Tensor logits;  // [units], never sparse
};

// Children "layer", then "gate" and optionally "block_gate", applied in that order.
class Gated : public Module {
 public:
  Gated(ModulePtr layer, std::shared_ptr<Gate> gate);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Gated"; }
  void add_block_gate(std::shared_ptr<Gate> g);
  ModulePtr layer();
  Gate* gate();
  Gate* block_gate();  // null when none
};

// Calls the module that sits at `source->children()[index]` (looked up on every call,
// so a sparsifier swapping that layer for its sparse twin is followed) and scales the
// result by its own learned scalar. The source is not a child: its parameters stay
// listed once, under their owner.
class SharedScaled : public Module {
 public:
  SharedScaled(Module* source, size_t index, double scale_init);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SharedScaled"; }
  Module* source_module() const;
  Module* source_parent;
  size_t source_index;
  Tensor scale;  // [1]
};

}  // namespace sprout::nn
