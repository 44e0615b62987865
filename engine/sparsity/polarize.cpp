// Polarization-gated one-pass pruning (Zhi et al., arXiv 2302.10798): every hidden
// Linear / Conv2d output unit gets a hard gate b = [sigmoid(z) > 0.5] with a
// straight-through gradient; the loss adds lambda_pol Pol(q) + lambda_s (mean(b) - d)^2
// so the gates split into open and closed. After training the closed units of an MLP
// are physically removed (rows of their layer, columns of the next) and the gates
// dropped; FLOPs and parameters before and after go to the run's summary.
//
// Gate placement: a gate sits after the BatchNorm2d that directly follows a layer in
// its parent's child list (ResNet / VGG channels), otherwise right after the layer
// (MLP neurons, plain CNN channels); the wrapper (nn::Gated) takes the wrapped
// module's slot, so its parameters gain a ".layer" infix. The last weight layer (the
// classifier) is never gated. With sparsity.gate_blocks, each residual block's last
// BatchNorm also gets one scalar gate for the whole residual branch. Weights stay
// dense: the pruning is structured.
#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/dyrelu.h"
#include "engine/nn/gate.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gate.h"
#include "engine/sparse/parameter.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

using Json = nlohmann::json;

// Gates start open, q = sigmoid(z) in [0.6, 0.9], spread so the polarizer has
// something to separate from the first step on.
const double kLogitLo = std::log(0.6 / 0.4), kLogitHi = std::log(0.9 / 0.1);

bool is_weight_layer(nn::Module* m) {
  return dynamic_cast<nn::Linear*>(m) || dynamic_cast<nn::Conv2d*>(m) || dynamic_cast<nn::SparseLinear*>(m) ||
         dynamic_cast<nn::SparseConv2d*>(m);
}

int64_t out_units(nn::Module* m) {
  if (auto* l = dynamic_cast<nn::Linear*>(m)) return l->out_features;
  if (auto* c = dynamic_cast<nn::Conv2d*>(m)) return c->out_channels;
  if (auto* l = dynamic_cast<nn::SparseLinear*>(m)) return l->out_features;
  if (auto* c = dynamic_cast<nn::SparseConv2d*>(m)) return c->out_channels;
  return 0;
}

struct Slot {
  nn::Module* parent;
  size_t index;
  std::string name;
};

// Weight layers in forward (depth-first) order.
void collect_layers(nn::Module* m, const std::string& prefix, std::vector<Slot>& out) {
  auto& ch = m->children();
  for (size_t i = 0; i < ch.size(); ++i) {
    std::string name = prefix.empty() ? ch[i].first : prefix + "." + ch[i].first;
    if (is_weight_layer(ch[i].second.get())) out.push_back({m, i, name});
    else collect_layers(ch[i].second.get(), name, out);
  }
}

bool is_residual_block(nn::Module* m) {
  return m->type_name() == "BasicBlock" || m->type_name() == "Bottleneck";
}

// Host copy of a float tensor.
std::vector<float> host(const Tensor& t) { return t.to_vector<float>(); }

Tensor host_tensor(const std::vector<float>& v, const Shape& s, Device dev) {
  return Tensor::from_vector<float>(v, s).to(dev, MemCategory::Weights);
}

// Stored weights + biases and multiply-adds x 2 per sample of one Linear-like layer.
struct Cost {
  int64_t params = 0, flops = 0;
};

Cost layer_cost(nn::Module* m) {
  Cost c;
  if (auto* l = dynamic_cast<nn::Linear*>(m)) {
    c.params = l->weight.numel() + (l->bias.defined() ? l->bias.numel() : 0);
    c.flops = 2 * l->weight.numel();
  } else if (auto* s = dynamic_cast<nn::SparseLinear*>(m)) {
    c.params = s->weight.nnz() + (s->bias.defined() ? s->bias.numel() : 0);
    c.flops = 2 * s->weight.nnz();
  }
  return c;
}

// The Linear (dense or sparse) restricted to output rows `rows` and input columns
// `cols` (both sorted), values carried. `zero_rows` marks kept rows whose weights and
// bias must become zero (a layer whose gates all closed keeps one silent unit).
nn::ModulePtr shrink_linear(nn::Module* m, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols,
                            const std::vector<uint8_t>& zero_rows) {
  const int64_t out = (int64_t)rows.size(), in = (int64_t)cols.size();
  if (auto* l = dynamic_cast<nn::Linear*>(m)) {
    Device dev = l->weight.device();
    std::vector<float> w = host(l->weight), b = l->bias.defined() ? host(l->bias) : std::vector<float>{};
    std::vector<float> nw((size_t)(out * in)), nb;
    for (int64_t r = 0; r < out; ++r) {
      const float* src = w.data() + rows[(size_t)r] * l->in_features;
      for (int64_t c = 0; c < in; ++c) nw[(size_t)(r * in + c)] = zero_rows[(size_t)r] ? 0.f : src[cols[(size_t)c]];
    }
    for (int64_t r = 0; r < out && !b.empty(); ++r)
      nb.push_back(zero_rows[(size_t)r] ? 0.f : b[(size_t)rows[(size_t)r]]);
    Rng saved = nn::init_rng();  // the new layer's own init draws must not shift the run's RNG
    auto nl = std::make_shared<nn::Linear>(in, out, l->bias.defined());
    nn::init_rng() = saved;
    nl->to(dev);
    nl->weight.copy_from(host_tensor(nw, {out, in}, dev));
    if (!nb.empty()) nl->bias.copy_from(host_tensor(nb, {out}, dev));
    return nl;
  }
  auto* s = dynamic_cast<nn::SparseLinear*>(m);
  SPROUT_CHECK(s && s->weight.block == 1, "polarize: cannot shrink a ", m->type_name());
  Device dev = s->weight.values.device();
  std::vector<int32_t> rp = s->weight.row_ptr.to_vector<int32_t>(), ci = s->weight.col_idx.to_vector<int32_t>();
  std::vector<float> v = host(s->weight.values);
  std::vector<int32_t> col_map((size_t)s->in_features, -1);
  for (size_t c = 0; c < cols.size(); ++c) col_map[(size_t)cols[c]] = (int32_t)c;
  std::vector<int32_t> nrp{0}, nci;
  std::vector<float> nv;
  for (int64_t r = 0; r < out; ++r) {
    int64_t src = rows[(size_t)r];
    for (int32_t e = rp[(size_t)src]; e < rp[(size_t)src + 1]; ++e) {
      int32_t c = col_map[(size_t)ci[(size_t)e]];
      if (c < 0) continue;
      nci.push_back(c);
      nv.push_back(zero_rows[(size_t)r] ? 0.f : v[(size_t)e]);
    }
    nrp.push_back((int32_t)nci.size());
  }
  sparse::CsrMatrix csr;
  csr.rows = out;
  csr.cols = in;
  csr.row_ptr = Tensor::from_vector<int32_t>(nrp, {out + 1}).clone(MemCategory::Indices);
  csr.col_idx = Tensor::from_vector<int32_t>(nci, {(int64_t)nci.size()}).clone(MemCategory::Indices);
  csr.values = Tensor::from_vector<float>(nv, {(int64_t)nv.size()}).clone(MemCategory::Weights);
  Rng scratch(0);  // values are overwritten below
  auto ns = std::make_shared<nn::SparseLinear>(csr, s->bias.defined(), scratch);
  ns->weight.values.copy_from(csr.values);
  if (s->bias.defined()) {
    std::vector<float> b = host(s->bias), nb;
    for (int64_t r = 0; r < out; ++r) nb.push_back(zero_rows[(size_t)r] ? 0.f : b[(size_t)rows[(size_t)r]]);
    ns->bias.copy_from(Tensor::from_vector<float>(nb, {out}));
  }
  ns->to(dev);
  return ns;
}

// Polarize's own options; the share of units kept is sparsity.density (a common option).
struct PolarizeOptions {
  double lambda_pol, lambda_s, pol_t;
  bool gate_blocks;
};

const Options<PolarizeOptions>& polarize_options() {
  using S = PolarizeOptions;
  static const Options<S> o = Options<S>()
      .number("lambda_pol", &S::lambda_pol, 1e-4, Range::at_least(0), "weight of the polarization term Pol(q)")
      .number("lambda_s", &S::lambda_s, 1.0, Range::at_least(0),
              "weight of the density term (mean(b) - density)^2 over the gates")
      .number("pol_t", &S::pol_t, 1.2, Range::above(0), "t of Pol(q) = t sum|q| - sum|q - mean(q)|")
      .flag("gate_blocks", &S::gate_blocks, false, "also gate each residual branch as a whole (ResNets)");
  return o;
}

class Polarize : public Sparsifier {
 public:
  // `density`: sparsity.density, the share of hidden units kept.
  Polarize(const PolarizeOptions& o, double density, nn::Module& model)
      : model_(&model), lambda_pol_(o.lambda_pol), lambda_s_(o.lambda_s), t_(o.pol_t), d_target_(density) {
    insert_gates(o.gate_blocks);
  }
  std::string name() const override { return "polarize"; }
  bool makes_layers_sparse() const override { return false; }

  Tensor extra_loss() override {
    std::vector<Tensor> unit_logits, block_logits;
    for (auto& g : gates_) unit_logits.push_back(g.gated->gate()->logits);
    for (auto& g : gates_)
      if (g.gated->block_gate()) block_logits.push_back(g.gated->block_gate()->logits);
    Tensor loss = ops::add(ops::scale(ops::polarization(unit_logits, t_), lambda_pol_),
                           ops::scale(ops::gate_density_penalty(unit_logits, d_target_), lambda_s_));
    // Block gates polarize among themselves: their scale differs from a channel's.
    if (!block_logits.empty()) loss = ops::add(loss, ops::scale(ops::polarization(block_logits, t_), lambda_pol_));
    return loss;
  }

  void end_of_epoch(int64_t epoch) override {
    for (auto& g : gates_) {
      int64_t open = g.gated->gate()->open_units(), units = g.gated->gate()->units;
      events_.push_back({(epoch + 1) * ctx.steps_per_epoch, g.name + ".gate", std::max<int64_t>(0, g.last_open - open),
                         std::max<int64_t>(0, open - g.last_open), open, (double)open / (double)units});
      g.last_open = open;
    }
  }

  void finish() override {
    report_ = unit_report();
    if (!mlp_layout()) {
      report_["physical_removal"] = "not supported for this model (only MLPs: Linear layers and ReLUs in one "
                                    "Sequential); the hard gates stay in place";
      return;
    }
    remove_closed_units();
  }

  Json summary() const override { return report_.is_null() ? unit_report() : report_; }

 private:
  struct Site {
    std::string name;
    std::shared_ptr<nn::Gated> gated;
    int64_t last_open = 0;
  };

  void insert_gates(bool gate_blocks) {
    std::vector<Slot> layers;
    collect_layers(model_, "", layers);
    SPROUT_CHECK(layers.size() >= 2, "polarize: the model needs a hidden layer to gate (found ", layers.size(),
                 " weight layers)");
    layers.pop_back();  // the classifier keeps every output
    for (const Slot& L : layers) {
      auto& ch = L.parent->children();
      size_t at = L.index;
      std::string name = L.name;
      int64_t units = out_units(ch[at].second.get());
      if (at + 1 < ch.size() && dynamic_cast<nn::BatchNorm2d*>(ch[at + 1].second.get())) {
        ++at;
        name = name.substr(0, name.size() - ch[L.index].first.size()) + ch[at].first;
      }
      auto gated = std::make_shared<nn::Gated>(ch[at].second, std::make_shared<nn::Gate>(units, kLogitLo, kLogitHi));
      ch[at].second = gated;
      gates_.push_back({name, gated, units});
    }
    if (!gate_blocks) return;
    int blocks = 0;
    for (auto& [mname, m] : model_->modules()) {
      if (!is_residual_block(m)) continue;
      nn::Gated* last = nullptr;
      for (auto& [cname, c] : m->children())
        if (cname.rfind("bn", 0) == 0) last = dynamic_cast<nn::Gated*>(c.get());
      SPROUT_CHECK(last, "polarize: residual block '", mname, "' has no gated BatchNorm for its block gate");
      last->add_block_gate(std::make_shared<nn::Gate>(1, kLogitLo, kLogitHi));
      ++blocks;
    }
    SPROUT_CHECK(blocks > 0, "sparsity.gate_blocks needs a model with residual blocks (ResNet); this ",
                 model_->type_name(), " has none");
  }

  Json unit_report() const {
    int64_t total = 0, open = 0, blocks = 0, blocks_open = 0;
    Json layers = Json::array();
    for (const auto& g : gates_) {
      int64_t u = g.gated->gate()->units, o = g.gated->gate()->open_units();
      total += u;
      open += o;
      layers.push_back({{"name", g.name}, {"units", u}, {"open", o}});
      if (nn::Gate* b = g.gated->block_gate()) {
        ++blocks;
        blocks_open += b->open_units();
      }
    }
    Json r = {{"method", "polarize"},
              {"units", {{"total", total}, {"open", open}, {"density", total ? (double)open / (double)total : 1.0},
                         {"target", d_target_}}},
              {"gated_layers", layers}};
    if (blocks) r["block_gates"] = {{"total", blocks}, {"open", blocks_open}};
    return r;
  }

  // An MLP: one Sequential of Linear / SparseLinear (bare or gated), ReLU and Flatten.
  bool mlp_layout() {
    if (model_->type_name() != "Sequential") return false;
    for (auto& [name, c] : model_->children()) {
      nn::Module* m = c.get();
      if (auto* g = dynamic_cast<nn::Gated*>(m)) {
        if (g->block_gate()) return false;
        m = g->layer().get();
      }
      bool linear = dynamic_cast<nn::Linear*>(m) || dynamic_cast<nn::SparseLinear*>(m);
      if (!linear && !dynamic_cast<nn::ReLU*>(m) && !dynamic_cast<nn::Flatten*>(m)) return false;
    }
    return true;
  }

  void remove_closed_units() {
    auto& ch = model_->children();
    Cost before, after;
    // keep[i]: the output rows layer i keeps (all when not gated); prev_cols: the inputs
    // the next layer keeps.
    std::vector<int64_t> prev_cols;
    bool first = true;
    int64_t removed_units = 0;
    for (size_t i = 0; i < ch.size(); ++i) {
      nn::Module* m = ch[i].second.get();
      auto* g = dynamic_cast<nn::Gated*>(m);
      nn::Module* layer = g ? g->layer().get() : m;
      if (!dynamic_cast<nn::Linear*>(layer) && !dynamic_cast<nn::SparseLinear*>(layer)) continue;
      auto* dl = dynamic_cast<nn::Linear*>(layer);
      auto* sl = dynamic_cast<nn::SparseLinear*>(layer);
      int64_t in = dl ? dl->in_features : sl->in_features, out = dl ? dl->out_features : sl->out_features;
      std::vector<int64_t> rows, cols;
      std::vector<uint8_t> zero_rows;
      if (g) {
        std::vector<float> z = host(g->gate()->logits);
        for (int64_t r = 0; r < out; ++r)
          if (z[(size_t)r] > 0) rows.push_back(r);
        if (rows.empty()) {
          // Every unit closed: keep the least-closed one, silenced, so shapes stay valid
          // and outputs unchanged (its output was gated to 0, and ReLU(0) = 0).
          rows.push_back((int64_t)(std::max_element(z.begin(), z.end()) - z.begin()));
          zero_rows.assign(1, 1);
        }
        removed_units += out - (int64_t)rows.size() + (int64_t)zero_rows.size();
      } else {
        for (int64_t r = 0; r < out; ++r) rows.push_back(r);
      }
      if (zero_rows.empty()) zero_rows.assign(rows.size(), 0);
      if (first) {
        for (int64_t c = 0; c < in; ++c) cols.push_back(c);
        first = false;
      } else {
        cols = prev_cols;
      }
      Cost b = layer_cost(layer);
      before.params += b.params;
      before.flops += b.flops;
      nn::ModulePtr shrunk = shrink_linear(layer, rows, cols, zero_rows);
      Cost a = layer_cost(shrunk.get());
      after.params += a.params;
      after.flops += a.flops;
      retired_.push_back(ch[i].second);  // the optimizer still points into the old tensors
      ch[i].second = shrunk;
      prev_cols = rows;
    }
    report_["physical_removal"] = "done";
    report_["units_removed"] = removed_units;
    auto removed = [](int64_t b, int64_t a) { return b ? 1.0 - (double)a / (double)b : 0.0; };
    report_["parameters"] = {{"before", before.params}, {"after", after.params},
                             {"removed_fraction", removed(before.params, after.params)}};
    report_["flops_per_sample"] = {{"before", before.flops}, {"after", after.flops},
                                   {"removed_fraction", removed(before.flops, after.flops)}};
  }

  nn::Module* model_;
  double lambda_pol_, lambda_s_, t_, d_target_;
  std::vector<Site> gates_;
  std::vector<nn::ModulePtr> retired_;
  Json report_;
};

}  // namespace

MethodEntry polarize_entry() {
  return {"polarize", "polarization-gated pruning of hidden units, removed after training (Zhi et al. 2023)",
          [](const Json& s, nn::Module& model, uint64_t seed) {
            auto o = polarize_options().read(s, kSparsityPrefix);
            return seeded(std::make_unique<Polarize>(o, read_sparsify_options(s).density, model), seed);
          },
          polarize_options().info()};
}

}  // namespace sprout::sparsity
