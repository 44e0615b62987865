// EAST (arXiv 2411.13545), dynamic sparse training for 99.9%+ sparsity. Base: every
// update_every steps each layer drops its smallest |w| (death rate cosine-annealed
// from death_rate to death_rate_final) and regrows as many empty positions with the
// largest dense |g| (w = 0, state 0), ERK densities clipped to min_density. Additions,
// each switchable:
// - DyReLU phasing: the model's ReLU modules become DyReLU-B, blended back to ReLU
//   between epochs E/4 and E/2 - 1, then swapped out and their memory released.
// - Weight sharing (ResNets): in every stage, blocks >= share_from reuse the convs of
//   block share_from - 1, each with its own scalar scale; the stored density is raised
//   so the virtual (unshared) network sits at sparsity.density.
// - Cyclic sparsity: over the first cycle_epochs_fraction of training the density
//   follows cosine cycles between d and cycle_max_multiplier d; each layer is pruned
//   by |w| or grown by dense |g| to its ERK share of the cycle's density.
// With sparsity.sparse_fan_in_init (our choice; the paper's ResNets have BatchNorm,
// which hides it), each sparse layer's initial weights are scaled by 1 / sqrt(d_l) so a
// unit's input variance matches the dense init: at 0.5% density an MLP without
// normalisation otherwise starts with a signal shrunk ~200x per layer.
#include <algorithm>
#include <cmath>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/dyrelu.h"
#include "engine/nn/gate.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/elementwise.h"
#include "engine/sparsity/distribution.h"
#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

double cyclic_density(double d_min, double d_max, double p) {
  return d_min + (d_max - d_min) * (1.0 - std::cos(2.0 * M_PI * p)) / 2.0;
}

bool cycle_position(int64_t step, int64_t region, int64_t cycles, double multiplier, double* p) {
  if (region <= 0 || cycles <= 0 || step < 0 || step >= region) return false;
  double weight = 0;
  for (int64_t i = 0; i < cycles; ++i) weight += std::pow(multiplier, (double)i);
  double start = 0;
  for (int64_t i = 0; i < cycles; ++i) {
    double len = (double)region * std::pow(multiplier, (double)i) / weight;
    if ((double)step < start + len || i + 1 == cycles) {
      *p = std::clamp(((double)step - start) / len, 0.0, 1.0);
      return true;
    }
    start += len;
  }
  return false;
}

double dyrelu_beta(int64_t epoch, int64_t epochs) {
  const int64_t e_s = epochs / 4, e_e = epochs / 2 - 1;
  if (epoch >= e_e) return 0.0;
  if (epoch < e_s) return 1.0;
  return 1.0 - (double)(epoch - e_s) / (double)(e_e - e_s);
}

double shared_density(double d, int64_t n_own, int64_t n_shared_virtual) {
  SPROUT_CHECK(n_own > 0, "shared_density: no own weights");
  return d * (double)(n_own + n_shared_virtual) / (double)n_own;
}

namespace {

using Json = nlohmann::json;

bool is_residual_block(nn::Module* m) {
  return m->type_name() == "BasicBlock" || m->type_name() == "Bottleneck";
}

// The channel count an activation at parent->children()[i] sees: the output width of
// the nearest layer before it among its siblings.
int64_t channels_before(nn::Module* parent, size_t i) {
  auto& ch = parent->children();
  for (size_t j = i; j-- > 0;) {
    nn::Module* m = ch[j].second.get();
    if (auto* l = dynamic_cast<nn::Linear*>(m)) return l->out_features;
    if (auto* c = dynamic_cast<nn::Conv2d*>(m)) return c->out_channels;
    if (auto* b = dynamic_cast<nn::BatchNorm2d*>(m)) return b->num_features;
    if (auto* l = dynamic_cast<nn::SparseLinear*>(m)) return l->out_features;
    if (auto* c = dynamic_cast<nn::SparseConv2d*>(m)) return c->out_channels;
  }
  return 0;
}

int64_t own_weight_numel(nn::Module& model) {
  int64_t n = 0;
  for (auto& [name, m] : model.modules()) {
    if (auto* l = dynamic_cast<nn::Linear*>(m)) n += l->in_features * l->out_features;
    else if (auto* c = dynamic_cast<nn::Conv2d*>(m)) n += shape_numel(c->weight_shape());
    else if (auto* s = dynamic_cast<nn::SparseLinear*>(m)) n += s->weight.dense_numel();
    else if (auto* s = dynamic_cast<nn::SparseConv2d*>(m)) n += s->weight.dense_numel();
  }
  return n;
}

// EAST's own options; density, distribution, er_epsilon and min_density are common.
struct EastOptions {
  int64_t update_every, share_from, cycles;
  double death_rate, death_rate_final, cycle_epochs_fraction, cycle_max_multiplier, cycle_length_multiplier;
  bool dyrelu, weight_sharing, cyclic, sparse_fan_in_init;
  std::string grow_init;
};

const Options<EastOptions>& east_options() {
  using S = EastOptions;
  static const Options<S> o = [] {
    Options<S> o;
    o.integer("update_every", &S::update_every, 100, Range::at_least(1), "steps between topology updates")
        .number("death_rate", &S::death_rate, 0.5, Range::closed(0, 1),
                "fraction of each layer's entries dropped and regrown at the first update (cosine-annealed)")
        .number("death_rate_final", &S::death_rate_final, 0.005, Range::closed(0, 1),
                "the death rate at the end of training")
        .flag("dyrelu", &S::dyrelu, true, "DyReLU-B activations, blended back to ReLU by epoch E/2 - 1")
        .flag("weight_sharing", &S::weight_sharing, false, "share convs between the blocks of a ResNet stage")
        .integer("share_from", &S::share_from, 2, Range::at_least(1),
                 "blocks from this index on reuse the convs of block share_from - 1 (weight_sharing)")
        .flag("cyclic", &S::cyclic, true, "density follows cosine cycles early in training")
        .integer("cycles", &S::cycles, 2, Range::at_least(1), "number of density cycles")
        .number("cycle_epochs_fraction", &S::cycle_epochs_fraction, 0.5, Range::open_closed(0, 1),
                "fraction of training the cycles span")
        .number("cycle_max_multiplier", &S::cycle_max_multiplier, 3.0, Range::at_least(1),
                "a cycle's peak density as a multiple of the density")
        .number("cycle_length_multiplier", &S::cycle_length_multiplier, 1.0, Range::above(0),
                "each cycle's length as a multiple of the one before")
        .flag("sparse_fan_in_init", &S::sparse_fan_in_init, true,
              "scale each sparse layer's initial weights by 1 / sqrt(its density)");
    declare_grow_init(o, &S::grow_init);
    return o;
  }();
  return o;
}

class East : public Sparsifier {
 public:
  East(const EastOptions& o, const SparsifyOptions& c, nn::Module& model)
      : every_(o.update_every), d_(c.density), r0_(o.death_rate), rf_(o.death_rate_final), dyrelu_(o.dyrelu),
        sharing_(o.weight_sharing), cyclic_(o.cyclic), cycles_(o.cycles), cycle_fraction_(o.cycle_epochs_fraction),
        peak_multiplier_(o.cycle_max_multiplier), length_multiplier_(o.cycle_length_multiplier),
        distribution_(c.distribution), er_epsilon_(c.er_epsilon), min_density_(c.min_density),
        fan_in_init_(o.sparse_fan_in_init) {
    if (sharing_) share_weights(model, o.share_from);
    n_own_ = own_weight_numel(model);
    d_adj_ = shared_density(d_, n_own_, n_shared_);
    SPROUT_CHECK(d_adj_ <= 1, "sparsity.density ", d_, " over the virtual network needs stored density ", d_adj_,
                 " > 1; lower the density or share fewer blocks");
    if (cyclic_)
      SPROUT_CHECK(peak_multiplier_ * d_adj_ <= 1, "sparsity.cycle_max_multiplier ", peak_multiplier_,
                   " x density ", d_adj_, " exceeds 1");
    if (dyrelu_) swap_in_dyrelu(model);
  }
  std::string name() const override { return "east"; }
  double initial_density(double) const override { return d_adj_; }

  void before_forward(int64_t step) override {
    if (!phase_set_) {
      set_phase(step / std::max<int64_t>(1, ctx.steps_per_epoch));
      phase_set_ = true;
    }
    if (fan_in_init_ && !init_scaled_ && step == 0) scale_init();
    init_scaled_ = true;
    if (step % every_ != 0 || step >= ctx.total_steps) return;
    layers_ = sparse_layers(ctx);
    if (nnz0_.empty())
      for (auto& L : layers_) nnz0_.push_back(L.p->nnz());
    SPROUT_CHECK(nnz0_.size() == layers_.size(), "east: ", layers_.size(), " sparse layers, ", nnz0_.size(),
                 " at the start");
    double rate = 0;
    std::vector<int64_t> target = targets(step, &rate);
    plans_.assign(layers_.size(), Plan{});
    for (size_t i = 0; i < layers_.size(); ++i) {
      Plan& pl = plans_[i];
      SPROUT_CHECK(layers_[i].p->block == 1, "east edits CSR layers; ", layers_[i].name, " has block ",
                   layers_[i].p->block);
      int64_t n = layers_[i].p->nnz(), t = target[i], m = std::min(n, t);
      int64_t k = rate > 0 ? std::min<int64_t>(m, (int64_t)std::ceil(rate * (double)m)) : 0;
      pl.keep_count = m - k;
      pl.grow_count = t - pl.keep_count;
      if (pl.grow_count == 0 && pl.keep_count == n) continue;  // nothing to change
      if (pl.grow_count == 0) {
        pl.edit.keep = ops::magnitude_topk_mask(*layers_[i].p, pl.keep_count, true, rng.next_u64());
        pl.edit.new_nnz_blocks = pl.keep_count;
        pl.ready = true;
      } else {
        set_grad_hooks(*layers_[i].p, [this, i](const sparse::GradFactors& g) { decide_with_grad(i, g); });
      }
    }
  }

  // The edit replaces the values, which drops their gradient: sparse layers skip this
  // optimizer step (their gradient belongs to the old topology); the rest step as usual.
  bool before_step(int64_t step) override {
    for (size_t i = 0; i < plans_.size(); ++i) {
      clear_grad_hooks(*layers_[i].p);
      Plan& pl = plans_[i];
      if (!pl.ready) continue;
      const int64_t dropped = layers_[i].p->col_idx.numel() - pl.keep_count;
      int64_t nnz = apply_edit(ctx, layers_[i], pl.edit);
      events_.push_back({step, layers_[i].name, dropped, pl.grow_count, nnz, layers_[i].p->density()});
    }
    plans_.clear();
    return false;
  }

  void end_of_epoch(int64_t epoch) override { set_phase(epoch + 1); }

  Json state() const override {
    return {{"rng", rng.state()}, {"nnz0", nnz0_}, {"dyrelu_dropped", dyrelu_dropped_},
            {"init_scaled", init_scaled_}};
  }
  // Called before the checkpoint's tensors are loaded: a run saved after the DyReLU
  // phase gets its plain ReLUs back first, so the model matches what was saved.
  void load_state(const Json& s) override {
    Sparsifier::load_state(s);
    if (s.contains("nnz0")) nnz0_ = s["nnz0"].get<std::vector<int64_t>>();
    if (s.contains("init_scaled")) init_scaled_ = s["init_scaled"].get<bool>();
    if (s.value("dyrelu_dropped", false) && dyrelu_ && !dyrelu_dropped_) drop_dyrelu();
  }

  Json summary() const override {
    Json r = {{"method", "east"}, {"density_target", d_}, {"density_stored_target", d_adj_}};
    r["dyrelu"] = {{"enabled", dyrelu_}, {"modules", (int64_t)relus_.size()}, {"dropped", dyrelu_dropped_}};
    if (sharing_)
      r["weight_sharing"] = {{"shared_convs", shared_convs_}, {"own_weights", n_own_},
                             {"shared_virtual_weights", n_shared_}};
    r["cyclic"] = {{"enabled", cyclic_}, {"cycles", cycles_}, {"epochs_fraction", cycle_fraction_},
                   {"peak_multiplier", peak_multiplier_}};
    return r;
  }

 private:
  struct Plan {
    bool ready = false;
    int64_t keep_count = 0, grow_count = 0;
    ops::TopologyEdit edit;
  };
  struct ReluSite {
    nn::Module* parent;
    size_t index;
    nn::ModulePtr relu;
    std::shared_ptr<nn::DyReLU> dyrelu;
  };

  // Per-layer nnz at `step`: the cycle's ERK share (anchored to the starting nnz, so
  // min_density-clipped layers stay put and p = 0 changes nothing), or the starting
  // nnz with the death rate after the cycles.
  std::vector<int64_t> targets(int64_t step, double* rate) {
    double p = 0;
    int64_t region = (int64_t)std::floor(cycle_fraction_ * (double)ctx.total_steps);
    if (!cyclic_ || !cycle_position(step, region, cycles_, length_multiplier_, &p)) {
      *rate = annealed_rate(r0_, rf_, step, ctx.total_steps);
      return nnz0_;
    }
    *rate = 0;
    std::vector<LayerSpec> specs;
    for (auto& L : layers_) specs.push_back({L.name, L.p->dense_shape, false});
    double d = cyclic_density(d_adj_, peak_multiplier_ * d_adj_, p);
    auto at_d = layer_budgets(specs, d, distribution_, er_epsilon_, min_density_);
    auto at_base = layer_budgets(specs, d_adj_, distribution_, er_epsilon_, min_density_);
    std::vector<int64_t> out(layers_.size());
    for (size_t i = 0; i < layers_.size(); ++i) {
      double ratio = (double)at_d[i].nnz / (double)std::max<int64_t>(1, at_base[i].nnz);
      out[i] = std::clamp<int64_t>((int64_t)std::llround((double)nnz0_[i] * ratio), 1, layers_[i].p->dense_numel());
    }
    return out;
  }

  void scale_init() {
    autograd::NoGradGuard ng;
    MemoryScope ms(MemCategory::Workspace);
    for (auto& L : sparse_layers(ctx)) {
      double d = L.p->density();
      if (d <= 0 || d >= 1) continue;
      L.p->values.copy_from(ops::scale(L.p->values, 1.0 / std::sqrt(d)));
    }
  }

  // On the layer's device. A position dropped in this step may come back; it restarts
  // at w = 0, state 0.
  void decide_with_grad(size_t i, const sparse::GradFactors& grad) {
    Plan& pl = plans_[i];
    sparse::SparseParameter& p = *layers_[i].p;
    pl.edit.keep = ops::magnitude_topk_mask(p, pl.keep_count, true, rng.next_u64());
    pl.edit.grow = ops::grow_by_gradient(p, grad, pl.grow_count, pl.edit.keep, pl.keep_count, rng.next_u64(), grow);
    pl.edit.new_nnz_blocks = pl.keep_count + pl.grow_count;
    pl.ready = true;
  }

  void share_weights(nn::Module& model, int64_t r) {
    // Stages first: the replacements below free the replaced convs, which the module
    // list would still name.
    std::vector<std::pair<std::string, nn::Module*>> stages;
    for (auto& [sname, stage] : model.modules()) {
      auto& blocks = stage->children();
      if (stage->type_name() != "Sequential" || blocks.empty()) continue;
      bool residual = true;
      for (auto& b : blocks) residual = residual && is_residual_block(b.second.get());
      if (residual) stages.emplace_back(sname, stage);
    }
    SPROUT_CHECK(!stages.empty(), "sparsity.weight_sharing needs a ResNet (stages of residual blocks); this ",
                 model.type_name(), " has none");
    for (auto& [sname, stage] : stages) {
      auto& blocks = stage->children();
      if ((int64_t)blocks.size() <= r) continue;
      nn::Module* src = blocks[(size_t)r - 1].second.get();
      for (size_t j = (size_t)r; j < blocks.size(); ++j) {
        auto& ch = blocks[j].second->children();
        for (size_t c = 0; c < ch.size(); ++c) {
          auto* own = dynamic_cast<nn::Conv2d*>(ch[c].second.get());
          if (!own) continue;
          auto& sch = src->children();
          auto* from = c < sch.size() ? dynamic_cast<nn::Conv2d*>(sch[c].second.get()) : nullptr;
          SPROUT_CHECK(from && sch[c].first == ch[c].first && from->weight_shape() == own->weight_shape() &&
                           from->stride == own->stride && from->padding == own->padding,
                       "sparsity.weight_sharing: ", sname, ".", j, ".", ch[c].first, " cannot reuse block ", r - 1,
                       "'s conv (different shape or stride); use share_from >= 2 for stages that downsample");
          n_shared_ += shape_numel(own->weight_shape());
          ch[c].second = std::make_shared<nn::SharedScaled>(src, c, nn::init_rng().uniform());
          ++shared_convs_;
        }
      }
    }
  }

  void swap_in_dyrelu(nn::Module& model) {
    for (auto& [mname, m] : model.modules()) {
      auto& ch = m->children();
      for (size_t i = 0; i < ch.size(); ++i) {
        if (!dynamic_cast<nn::ReLU*>(ch[i].second.get())) continue;
        int64_t c = channels_before(m, i);
        SPROUT_CHECK(c > 0, "sparsity.dyrelu: cannot tell the channel count of ReLU '",
                     mname.empty() ? ch[i].first : mname + "." + ch[i].first, "' (no layer before it)");
        auto dy = std::make_shared<nn::DyReLU>(c);
        relus_.push_back({m, i, ch[i].second, dy});
        ch[i].second = dy;
      }
    }
  }

  void set_phase(int64_t epoch) {
    if (!dyrelu_ || dyrelu_dropped_) return;
    double beta = dyrelu_beta(epoch, ctx.epochs);
    if (beta > 0) {
      for (auto& r : relus_) r.dyrelu->beta = beta;
      return;
    }
    drop_dyrelu();
  }

  // Back to the original ReLU modules. The optimizer keeps pointers into the DyReLU
  // modules (kept alive here), so their tensors and optimizer state become empty:
  // no gradient, no update, no memory.
  void drop_dyrelu() {
    auto& params = ctx.optimizer->params();
    for (auto& r : relus_) {
      r.parent->children()[r.index].second = r.relu;
      r.dyrelu->beta = 0;
      for (Tensor* t : {&r.dyrelu->fc1_weight, &r.dyrelu->fc1_bias, &r.dyrelu->fc2_weight, &r.dyrelu->fc2_bias}) {
        for (size_t i = 0; i < params.size(); ++i) {
          if (params[i].tensor != t) continue;
          for (Tensor* st : ctx.optimizer->state_of(i))
            *st = Tensor::zeros({0}, st->dtype(), st->device(), MemCategory::Optimizer);
        }
        *t = Tensor::zeros({0}, t->dtype(), t->device(), MemCategory::Weights);
      }
    }
    dyrelu_dropped_ = true;
  }

  int64_t every_;
  double d_, r0_, rf_;
  bool dyrelu_, sharing_, cyclic_;
  int64_t cycles_;
  double cycle_fraction_, peak_multiplier_, length_multiplier_;
  std::string distribution_;
  double er_epsilon_, min_density_;
  bool fan_in_init_;
  int64_t n_own_ = 0, n_shared_ = 0, shared_convs_ = 0;
  double d_adj_ = 0;
  bool phase_set_ = false, dyrelu_dropped_ = false, init_scaled_ = false;
  std::vector<ReluSite> relus_;
  std::vector<SparseLayer> layers_;
  std::vector<Plan> plans_;
  std::vector<int64_t> nnz0_;
};

}  // namespace

MethodEntry east_entry() {
  return {"east", "EAST: drop/grow for extreme sparsity with DyReLU, weight sharing and cyclic density (2024)",
          [](const Json& s, nn::Module& model, uint64_t seed) {
            auto o = east_options().read(s, kSparsityPrefix);
            return seeded(std::make_unique<East>(o, read_sparsify_options(s), model), seed);
          },
          east_options().info()};
}

}  // namespace sprout::sparsity
