// Activation checkpointing: the recording node, the gradient capture for the
// recomputed input, and the per-step mode.
#include "engine/nn/checkpoint.h"

#include "engine/autograd/saved.h"
#include "engine/core/error.h"

namespace sprout::nn {

namespace {

thread_local CheckpointMode tl_mode = CheckpointMode::None;

// The recomputed input's producer inside backward: collects the gradient that the
// recomputed graph sends to the input (summed over its uses by the backward pass).
struct CaptureGrad : autograd::Node {
  std::vector<Tensor> apply(const Tensor& g) override {
    grad = g;
    return {};
  }
  const char* name() const override { return "checkpoint_input"; }
  Tensor grad;
};

struct CheckpointNode : autograd::Node {
  ModulePtr module;
  Tensor x;  // kept whole: a checkpointed block's input is not rebuilt from anything
  bool gx = false;

  const char* name() const override { return "checkpoint"; }
  void release() override {
    module.reset();
    x = Tensor();
  }
  std::vector<Tensor> apply(const Tensor& g) override {
    autograd::EnableGradGuard eg;
    autograd::RecomputeGuard rg;
    Tensor xi = x.detach();
    auto capture = std::make_shared<CaptureGrad>();
    if (gx) autograd::record(xi, capture, std::initializer_list<const Tensor*>{});
    Tensor y = module->forward(xi);
    if (y.requires_grad()) autograd::run_backward(y, g);
    return {capture->grad};
  }
};

}  // namespace

CheckpointMode checkpoint_mode() { return tl_mode; }

CheckpointMode parse_checkpoint_mode(const std::string& name) {
  if (name == "none") return CheckpointMode::None;
  if (name == "blocks") return CheckpointMode::Blocks;
  SPROUT_FAIL("activation checkpointing '", name, "' (expected none or blocks)");
}

CheckpointScope::CheckpointScope(CheckpointMode m) : saved_(tl_mode) { tl_mode = m; }
CheckpointScope::~CheckpointScope() { tl_mode = saved_; }

Tensor checkpoint(const ModulePtr& m, const Tensor& x) {
  if (!autograd::grad_enabled()) return m->forward(x);
  Tensor y;
  {
    autograd::NoGradGuard ng;
    y = m->forward(x);
  }
  bool params = false;
  for (auto& p : m->parameters()) params = params || p.tensor->requires_grad();
  if (!params && !x.requires_grad()) return y;
  auto node = std::make_shared<CheckpointNode>();
  node->module = m;
  node->x = x.detach();
  node->gx = x.requires_grad();
  autograd::record(y, node, {&x});
  return y;
}

}  // namespace sprout::nn
