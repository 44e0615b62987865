// Layer densities at initialisation (ALGORITHMS.md): uniform, ER (SET) and ERK
// (RigL), with first/last layer dense options, turned into exact per-layer nnz whose
// sum equals round(target density x sparse-able parameters).
#pragma once
#include <string>
#include <vector>

#include "engine/core/shape.h"

namespace sprout::sparsity {

struct LayerSpec {
  std::string name;
  Shape shape;             // dense weight shape: [out, in] or [cout, cin, kh, kw]
  bool force_dense = false;  // first/last layer kept dense, or not sparse-able
  int64_t numel() const { return shape_numel(shape); }
};

struct LayerBudget {
  double density = 1.0;
  int64_t nnz = 0;
};

// `distribution`: uniform | er | erk. `er_epsilon` is SET's epsilon for "er" when
// `density` <= 0 (SET's own parameterisation); otherwise ER is scaled to `density`.
std::vector<LayerBudget> layer_budgets(const std::vector<LayerSpec>& layers, double density,
                                       const std::string& distribution, double er_epsilon = 20.0,
                                       double min_density = 0.0);

}  // namespace sprout::sparsity
