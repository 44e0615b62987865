// Builds the sparsifier a config's "sparsity" section names and makes the model's
// layers sparse at the densities its distribution gives.
#pragma once
#include <nlohmann/json.hpp>

#include "engine/sparsity/sparsifier.h"

namespace sprout::sparsity {

// `sparsity` is the config's "sparsity" section: its common options are read and
// checked once, the method comes from methods() (an unknown name lists the known
// ones). Replaces Linear/Conv2d children of `model` by sparse twins where the method
// starts sparse; dense training and polarize leave the weights as they are.
SparsifierPtr make_sparsifier(const nlohmann::json& sparsity, nn::Module& model, uint64_t seed);

}  // namespace sprout::sparsity
