// Reverse-mode autograd without a global tape: every differentiable op returns a
// tensor whose grad_fn is a Node holding what its backward needs and an Edge per
// input. backward() sorts the graph topologically, runs each node once, and
// releases what the nodes saved.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace sprout::autograd {

struct Node;

// Where the gradient of one input goes. `fn` is null when that input needs none.
struct Edge {
  std::shared_ptr<Node> fn;
};

struct Node {
  virtual ~Node() = default;
  // Gradients for each input (an undefined Tensor where an input needs none).
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees saved tensors once the node has run.
  virtual void release() {}
  virtual const char* name() const = 0;
  // A node that can recompute its output from what it saved anyway (an elementwise
  // op after a kept input) says so; then a consumer keeps the node, not the output
  // (see saved.h). rebuild() is called before this node runs, never after.
  virtual bool can_rebuild() const { return false; }
  virtual Tensor rebuild() const { return Tensor(); }
  std::vector<Edge> next;
};

// A node whose backward is a lambda; most ops use this.
struct FunctionNode : Node {
  using Fn = std::function<std::vector<Tensor>(const Tensor&)>;
  FunctionNode(const char* n, Fn f) : name_(n), fn_(std::move(f)) {}
  std::vector<Tensor> apply(const Tensor& g) override { return fn_(g); }
  void release() override { fn_ = nullptr; }
  const char* name() const override { return name_; }
 private:
  const char* name_;
  Fn fn_;
};

// Sums incoming gradients into a leaf's .grad (allocated in the Gradients category).
struct AccumulateGrad : Node {
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {}
  std::vector<Tensor> apply(const Tensor& g) override;
  const char* name() const override { return "AccumulateGrad"; }
 private:
  std::weak_ptr<TensorImpl> leaf_;
};

bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool saved_;
};

// Grad mode on again inside a NoGradGuard: backward recomputing a checkpointed block.
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;
 private:
  bool saved_;
};

// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
// Makes `out` the output of `node`, wiring one edge per input (in order).
void record(Tensor& out, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs);
void record(Tensor& out, std::shared_ptr<Node> node, const std::vector<const Tensor*>& inputs);
// Backpropagates `grad_output` from `root` to every leaf that requires grad.
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace sprout::autograd
