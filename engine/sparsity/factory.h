// Builds the sparsifier a config names and makes the model's layers sparse at the
// densities its distribution gives.
#pragma once
#include <nlohmann/json.hpp>

#include "engine/sparsity/sparsifier.h"

namespace sprout::sparsity {

// `cfg` is the whole run config (the "sparsity" section and what methods need of
// "train"). Replaces Linear/Conv2d children of `model` by sparse twins where the
// method starts sparse; `dense` leaves the model as it is.
SparsifierPtr make_sparsifier(const nlohmann::json& cfg, nn::Module& model, uint64_t seed);

}  // namespace sprout::sparsity
