// Gate, Gated and SharedScaled: parameters, then one op each.
#include "engine/nn/gate.h"

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/gate.h"

namespace sprout::nn {

Gate::Gate(int64_t n, double lo, double hi) : units(n) {
  SPROUT_CHECK(n > 0, "Gate(", n, "): units must be positive");
  logits = Tensor::empty({n}, DType::F32, Device::cpu(), MemCategory::Weights);
  uniform_(logits, lo, hi, init_rng());
  register_parameter("logits", &logits);
}

Tensor Gate::forward(const Tensor& x) { return ops::gate(x, logits); }

int64_t Gate::open_units() const { return ops::count_open_gates(logits); }

Gated::Gated(ModulePtr layer, std::shared_ptr<Gate> gate) {
  register_module("layer", std::move(layer));
  register_module("gate", std::move(gate));
}

void Gated::add_block_gate(std::shared_ptr<Gate> g) {
  SPROUT_CHECK(!block_gate(), "Gated: already has a block gate");
  register_module("block_gate", std::move(g));
}

Tensor Gated::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& c : children()) h = c.second->forward(h);
  return h;
}

ModulePtr Gated::layer() { return children()[0].second; }
Gate* Gated::gate() { return static_cast<Gate*>(children()[1].second.get()); }
Gate* Gated::block_gate() {
  return children().size() > 2 ? static_cast<Gate*>(children()[2].second.get()) : nullptr;
}

SharedScaled::SharedScaled(Module* source, size_t index, double scale_init)
    : source_parent(source), source_index(index) {
  SPROUT_CHECK(source && index < source->children().size(), "SharedScaled: no child ", index, " to share");
  scale = Tensor::full({1}, scale_init, DType::F32, Device::cpu()).clone(MemCategory::Weights);
  register_parameter("scale", &scale);
}

Module* SharedScaled::source_module() const { return source_parent->children()[source_index].second.get(); }

Tensor SharedScaled::forward(const Tensor& x) { return ops::channel_scale(source_module()->forward(x), scale); }

}  // namespace sprout::nn
