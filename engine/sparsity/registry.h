// Every sparse-training method by name (the registry's key is sparsity.method), each
// with the options it declares, and the options all methods share. The "sparsity"
// section of the config is built from these declarations (sparsity_defaults).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/options.h"
#include "engine/core/registry.h"
#include "engine/sparsity/sparsifier.h"

namespace sprout::sparsity {

// Builds a method from the config's "sparsity" section; it may change the model
// (polarize adds gates, EAST DyReLU and shared weights) and seeds itself from `seed`.
using MethodFactory =
    std::function<SparsifierPtr(const nlohmann::json& sparsity, nn::Module& model, uint64_t seed)>;
using MethodEntry = Registry<MethodFactory>::Entry;

// Every method, registered by name with its declared options (Registry key "sparsity.method").
const Registry<MethodFactory>& methods();

// What option errors call the section: "sparsity.density must be in (0, 1], got 1.5".
inline const std::string kSparsityPrefix = "sparsity.";

// The options every method shares, read once by make_sparsifier; a method that needs
// one of them (snip's density, EAST's distribution) reads this struct when it is built.
struct SparsifyOptions {
  std::string method, distribution, format, kernel, keep_transposes;
  double density, er_epsilon, min_density, dense_compute_above;
  int64_t block, grow_budget_bytes, grow_candidates;
  std::string grow;
  bool first_layer_dense, last_layer_dense, scale_init;
};
SparsifyOptions read_sparsify_options(const nlohmann::json& sparsity);
std::vector<OptionInfo> common_options();

// The whole "sparsity" section's defaults: common options plus every method's. A key
// several owners declare has one default, type and range (an error naming it if not).
nlohmann::json sparsity_defaults();

// A built method with its RNG seeded from the run's seed; every factory returns
// through it, so one seed gives the same draws whichever way a method is built.
SparsifierPtr seeded(SparsifierPtr method, uint64_t seed);

}  // namespace sprout::sparsity
