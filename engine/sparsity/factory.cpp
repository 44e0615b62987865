// Config-driven sparsification: the method comes from the registry, then every Linear
// and Conv2d of the model is replaced by its sparse twin at the density its
// distribution gives (layers the distribution makes dense, and first/last layers when
// asked, stay dense).
#include "engine/sparsity/factory.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/topology.h"
#include "engine/sparsity/distribution.h"
#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/registry.h"
#include "engine/sparsity/select.h"

namespace sprout::sparsity {

namespace {

struct Slot {
  nn::Module* parent;
  size_t child;
  std::string name;  // the weight's parameter name
  Shape shape;
};

std::vector<Slot> weight_layers(nn::Module& model) {
  std::vector<Slot> out;
  for (auto& [mname, m] : model.modules()) {
    auto& ch = m->children();
    for (size_t i = 0; i < ch.size(); ++i) {
      std::string full = (mname.empty() ? "" : mname + ".") + ch[i].first + ".weight";
      if (auto* l = dynamic_cast<nn::Linear*>(ch[i].second.get()))
        out.push_back({m, i, full, {l->out_features, l->in_features}});
      else if (auto* c = dynamic_cast<nn::Conv2d*>(ch[i].second.get())) out.push_back({m, i, full, c->weight_shape()});
    }
  }
  return out;
}

void sparsify(nn::Module& model, const SparsifyOptions& sp, Sparsifier& s) {
  std::vector<Slot> slots = weight_layers(model);
  if (slots.empty()) return;
  std::vector<LayerSpec> specs;
  for (size_t i = 0; i < slots.size(); ++i) {
    bool dense = (i == 0 && sp.first_layer_dense) || (i + 1 == slots.size() && sp.last_layer_dense);
    specs.push_back({slots[i].name, slots[i].shape, dense});
  }
  double d0 = s.initial_density(sp.density);
  SPROUT_CHECK(d0 > 0 && d0 <= 1, "sparsity: initial density ", d0, " not in (0, 1]");
  std::vector<LayerBudget> budgets =
      d0 >= 1.0 ? layer_budgets(specs, 1.0, "uniform")
                : layer_budgets(specs, d0, sp.distribution, sp.er_epsilon, sp.min_density);
  int block = sp.format == "bsr" ? (int)sp.block : 1;
  SPROUT_CHECK(block == 1 || s.supports_blocks(), "sparsity.format bsr is supported with methods static, rigl "
               "and set_magnitude, not ", s.name());
  for (size_t i = 0; i < slots.size(); ++i) {
    if (specs[i].force_dense) continue;
    if (budgets[i].density >= 1.0 && d0 < 1.0 && !s.store_dense_layers_sparse()) continue;
    int64_t rows = slots[i].shape[0], cols = specs[i].numel() / rows;
    auto& child = slots[i].parent->children()[slots[i].child].second;
    // Grid positions, never a dense mask: a layer of 10^12 positions holds only its nnz.
    std::vector<int64_t> pos = block == 1 ? s.init_positions(i, rows, cols, budgets[i].nnz)
                                          : nn::random_grid_positions(rows, cols, budgets[i].density, block, s.rng);
    std::sort(pos.begin(), pos.end());
    sparse::SparseParameter* w = nullptr;
    if (auto* l = dynamic_cast<nn::Linear*>(child.get())) {
      auto sl = nn::SparseLinear::at_positions(*l, pos, block);
      w = &sl->weight;
      child = sl;
    } else if (auto* c = dynamic_cast<nn::Conv2d*>(child.get())) {
      auto sc = nn::SparseConv2d::at_positions(*c, pos, block);
      w = &sc->weight;
      child = sc;
    }
    // sparsity.scale_init (our choice, off by default): the kept weights are scaled by
    // 1 / sqrt(density) so a unit's input variance matches the dense initialisation.
    if (w && sp.scale_init && w->density() > 0) {
      autograd::NoGradGuard ng;
      Tensor v = ops::scale(w->values, 1.0 / std::sqrt(w->density()));
      w->values.copy_from(v);
    }
  }
}

}  // namespace

std::vector<int64_t> Sparsifier::init_positions(size_t, int64_t rows, int64_t cols, int64_t nnz) {
  return random_empty(rows, cols, {}, nnz, rng);
}

SparsifierPtr make_sparsifier(const nlohmann::json& sparsity, nn::Module& model, uint64_t seed) {
  const SparsifyOptions sp = read_sparsify_options(sparsity);
  SparsifierPtr s = methods().at(sp.method).make(sparsity, model, seed);
  s->grow = ops::GrowConfig{sp.grow == "sampled", sp.grow_budget_bytes, sp.grow_candidates};
  if (s->makes_layers_sparse()) sparsify(model, sp, *s);
  nn::materialize_dense_weights(model);  // the layers that stay dense, when built deferred
  return s;
}

}  // namespace sprout::sparsity
