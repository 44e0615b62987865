// Method registry and config-driven sparsification: every Linear and Conv2d of the
// model is replaced by its sparse twin at the density its distribution gives (layers
// the distribution makes dense, and first/last layers when asked, stay dense).
#include "engine/sparsity/factory.h"

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
#include "engine/sparsity/methods.h"
#include "engine/sparsity/select.h"

namespace sprout::sparsity {

namespace {

class DenseTraining : public Sparsifier {
 public:
  std::string name() const override { return "dense"; }
};

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
      if (auto* l = dynamic_cast<nn::Linear*>(ch[i].second.get())) out.push_back({m, i, full, l->weight.shape()});
      else if (auto* c = dynamic_cast<nn::Conv2d*>(ch[i].second.get())) out.push_back({m, i, full, c->weight.shape()});
    }
  }
  return out;
}

void sparsify(nn::Module& model, const nlohmann::json& sp, Sparsifier& s) {
  std::vector<Slot> slots = weight_layers(model);
  if (slots.empty()) return;
  std::vector<LayerSpec> specs;
  for (size_t i = 0; i < slots.size(); ++i) {
    bool dense = (i == 0 && sp["first_layer_dense"].get<bool>()) ||
                 (i + 1 == slots.size() && sp["last_layer_dense"].get<bool>());
    specs.push_back({slots[i].name, slots[i].shape, dense});
  }
  double d0 = s.initial_density(sp);
  SPROUT_CHECK(d0 > 0 && d0 <= 1, "sparsity: initial density ", d0, " not in (0, 1]");
  std::vector<LayerBudget> budgets =
      d0 >= 1.0 ? layer_budgets(specs, 1.0, "uniform")
                : layer_budgets(specs, d0, sp["distribution"].get<std::string>(),
                                sp["er_epsilon"].get<double>(), sp["min_density"].get<double>());
  std::string format = sp["format"].get<std::string>();
  SPROUT_CHECK(format == "csr" || format == "bsr", "sparsity.format '", format, "' (expected csr or bsr)");
  int block = format == "bsr" ? sp["block"].get<int>() : 1;
  SPROUT_CHECK(block == 1 || (block >= 2 && block <= 32), "sparsity.block ", block, " not in 2..32");
  SPROUT_CHECK(block == 1 || s.supports_blocks(), "sparsity.format bsr is supported with methods static, rigl "
               "and set_magnitude, not ", s.name());
  MemoryScope ms(MemCategory::Workspace);  // the transient masks
  for (size_t i = 0; i < slots.size(); ++i) {
    if (specs[i].force_dense) continue;
    if (budgets[i].density >= 1.0 && d0 < 1.0 && !s.store_dense_layers_sparse()) continue;
    int64_t rows = slots[i].shape[0], cols = specs[i].numel() / rows;
    auto& child = slots[i].parent->children()[slots[i].child].second;
    Tensor mask;
    if (block == 1) {
      std::vector<int64_t> pos = s.init_positions(i, rows, cols, budgets[i].nnz);
      mask = Tensor::zeros({rows, cols}, DType::U8, Device::cpu());
      for (int64_t p : pos) mask.data<uint8_t>()[p] = 1;
    }
    sparse::SparseParameter* w = nullptr;
    if (auto* l = dynamic_cast<nn::Linear*>(child.get())) {
      auto sl = block == 1 ? nn::SparseLinear::from_dense(*l, mask)
                           : nn::SparseLinear::from_dense(*l, budgets[i].density, s.rng, block);
      w = &sl->weight;
      child = sl;
    } else if (auto* c = dynamic_cast<nn::Conv2d*>(child.get())) {
      auto sc = block == 1 ? nn::SparseConv2d::from_dense(*c, mask)
                           : nn::SparseConv2d::from_dense(*c, budgets[i].density, s.rng, block);
      w = &sc->weight;
      child = sc;
    }
    // sparsity.scale_init (our choice, off by default): the kept weights are scaled by
    // 1 / sqrt(density) so a unit's input variance matches the dense initialisation.
    if (w && sp["scale_init"].get<bool>() && w->density() > 0) {
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

SparsifierPtr make_sparsifier(const nlohmann::json& cfg, nn::Module& model, uint64_t seed) {
  const nlohmann::json& sp = cfg["sparsity"];
  std::string method = sp["method"].get<std::string>();
  SparsifierPtr s;
  if (method == "dense") s = std::make_unique<DenseTraining>();
  else if (method == "static") s = make_static(sp);
  else if (method == "set") s = make_set(sp, false);
  else if (method == "set_magnitude") s = make_set(sp, true);
  else if (method == "rigl") s = make_rigl(sp);
  else if (method == "granet") s = make_granet(sp);
  else if (method == "gmp") s = make_gmp(sp);
  else if (method == "snip") s = make_snip(sp);
  else if (method == "kstarts") s = make_kstarts(sp);
  else if (method == "dissipating") s = make_dissipating(sp);
  else if (method == "kstarts_dissipating") s = make_kstarts_dissipating(sp);
  else if (method == "polarize") return make_polarize(sp, model, seed);
  else if (method == "east") s = make_east(sp, model);
  else
    SPROUT_FAIL("sparsity.method: unknown method '", method,
                "' (dense, static, set, set_magnitude, rigl, granet, gmp, snip, kstarts, dissipating, kstarts_dissipating, polarize, east)");
  s->rng.seed_with(seed ^ 0x5eed5eedull);
  if (method != "dense") sparsify(model, sp, *s);
  return s;
}

}  // namespace sprout::sparsity
