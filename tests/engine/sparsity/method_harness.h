// A minimal training loop for the method tests: a small MLP on a device, its
// sparsifier and SGD with momentum, and one fixed batch, calling the hooks in the
// training loop's order.
#pragma once
#include <memory>

#include "engine/io/config.h"
#include "engine/sparsity/registry.h"
#include "engine/nn/init.h"
#include "engine/ops/deferred.h"
#include "engine/ops/loss.h"
#include "engine/optim/optimizer.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/layer_edit.h"
#include "models/models.h"
#include "testing.h"

namespace sprout::sparsity {

using Json = nlohmann::json;

// A small MLP, its sparsifier and optimizer, and a loop calling the hooks in the
// training loop's order.
struct Harness {
  nn::ModulePtr model;
  SparsifierPtr sp;
  std::unique_ptr<optim::Sgd> opt;
  Tensor x, y;
  int64_t step = 0;

  Harness(const Json& sparsity, int64_t steps_per_epoch, int64_t epochs, uint64_t seed = 3,
          Device dev = Device::cpu()) {
    Json cfg = {{"sparsity", sparsity_defaults()}};
    io::merge_checked(cfg, Json{{"sparsity", sparsity}}, "test");
    nn::init_rng().seed_with(seed);
    model = models::mlp(24, {40, 30}, 5);
    sp = make_sparsifier(cfg["sparsity"], *model, seed);
    model->to(dev);
    optim::SgdOptions o;
    o.momentum = 0.9;
    opt = std::make_unique<optim::Sgd>(model->parameters(), o);
    sp->ctx = TrainContext{model.get(), opt.get(), steps_per_epoch * epochs, steps_per_epoch, epochs};
    x = testing::randn({16, 24}, seed + 1, DType::F32).to(dev);
    std::vector<int32_t> labels(16);
    for (int i = 0; i < 16; ++i) labels[(size_t)i] = i % 5;
    y = Tensor::from_vector<int32_t>(labels, {16}).to(dev);
  }
  // Returns the step's loss.
  double run_step() {
    sp->before_forward(step);
    opt->zero_grad();
    Tensor loss = ops::cross_entropy(model->forward(x), y);
    loss.backward();
    if (!sp->before_step(step)) opt->step(0.1);
    sp->after_step(step);
    ++step;
    if (step % sp->ctx.steps_per_epoch == 0) sp->end_of_epoch(step / sp->ctx.steps_per_epoch - 1);
    const double value = loss.item();
    ops::check_deferred();
    return value;
  }
  std::vector<SparseLayer> layers() { return sparse_layers(sp->ctx); }
  double density() {
    int64_t nnz = 0, total = 0;
    for (auto& L : layers()) { nnz += L.p->nnz(); total += L.p->dense_numel(); }
    return (double)nnz / (double)total;
  }
};

}  // namespace sprout::sparsity
