// What a run reports about its model: per-layer structure and density, and memory per
// allocator category beside the dense equivalent (summary.json's "layers",
// "parameters" and "memory" sections).
#pragma once
#include <nlohmann/json.hpp>

#include "engine/core/flops.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"

namespace sprout::train {

// Allocator figures per category on `dev`, with the dense-equivalent parameter side
// (weights, gradients, and `opt`'s state per weight; `opt` may be null).
nlohmann::json memory_report(nn::Module& model, optim::Optimizer* opt, Device dev);
// FLOPs per step of the weight layers over `steps` steps: per pass, done and the dense
// layers' ("dense_forward", ...), totals and their ratio.
nlohmann::json flops_report(const FlopCount& c, double steps);
// {"layers": [...], "parameters": {"dense", "stored"}}.
nlohmann::json layer_report(nn::Module& model);

}  // namespace sprout::train
