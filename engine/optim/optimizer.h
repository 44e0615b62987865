// Optimizers over a model's parameters. State tensors are aligned element for element
// with each parameter's tensor, so a sparse layer's state has length nnz, and a
// topology edit remaps it through state_of(). Updates run on the parameter's device.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace sprout::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<nn::ParamRef> params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  // Updates every parameter that has a gradient, at learning rate `lr` (the schedule
  // owns the rate; the optimizer keeps none of its own).
  virtual void step(double lr) = 0;
  // Zeroes gradients in place (their memory stays, counted under "gradients").
  void zero_grad();
  virtual std::string name() const = 0;
  // The state tensors of parameter i (momentum; or m and v). Topology edits replace them.
  virtual std::vector<Tensor*> state_of(size_t i) = 0;
  // Every state tensor with a stable name ("<param>.momentum"), for checkpoints.
  std::vector<std::pair<std::string, Tensor*>> named_state();
  virtual std::vector<std::string> state_names() const = 0;
  std::vector<nn::ParamRef>& params() { return params_; }
  int64_t steps = 0;  // completed step() calls

 protected:
  std::vector<nn::ParamRef> params_;
};

struct SgdOptions {
  double momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<nn::ParamRef> params, SgdOptions o);
  void step(double lr) override;
  std::string name() const override { return "sgd"; }
  std::vector<Tensor*> state_of(size_t i) override;
  std::vector<std::string> state_names() const override;
  SgdOptions opt;
 private:
  std::vector<Tensor> momentum_;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<nn::ParamRef> params, AdamWOptions o);
  void step(double lr) override;
  std::string name() const override { return "adamw"; }
  std::vector<Tensor*> state_of(size_t i) override;
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  AdamWOptions opt;
 private:
  std::vector<Tensor> m_, v_;
};

}  // namespace sprout::optim
