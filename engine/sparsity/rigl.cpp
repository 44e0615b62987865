// RigL (Evci et al. 2020): every update_every steps until end_fraction of training,
// each layer drops the k = floor(nnz f(t)) smallest |w| and grows the k positions
// with the largest dense |g| among those not kept (a dropped position that is regrown
// is revived: value and state kept); f(t) is the cosine drop fraction. The gradient
// comes one layer at a time through the layer's grad hooks during backward (its
// factors for a linear layer, ranked by ops::grow_by_gradient: exact over tiles or
// sampled, without the dense gradient; a convolution's dense gradient, freed at once);
// the decision is made there, on the layer's device. Every count is known on the host, so an update step reads nothing
// back from a GPU. The optimizer step is skipped on update steps, as in RigL's code.
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

class RigL : public Sparsifier {
 public:
  explicit RigL(const RigLOptions& o)
      : every_(o.update_every), alpha_(o.drop_fraction), end_fraction_(o.end_fraction) {}
  std::string name() const override { return "rigl"; }
  bool supports_blocks() const override { return true; }

  bool is_update(int64_t step) const {
    int64_t end = (int64_t)(end_fraction_ * (double)ctx.total_steps);
    return step % every_ == 0 && step < end;
  }

  void before_forward(int64_t step) override {
    if (!is_update(step)) return;
    double f = cosine_fraction(alpha_, step, (int64_t)(end_fraction_ * (double)ctx.total_steps));
    layers_ = sparse_layers(ctx);
    decisions_.assign(layers_.size(), Decision{});
    for (size_t i = 0; i < layers_.size(); ++i) {
      sparse::SparseParameter* p = layers_[i].p;
      set_grad_hooks(*p, [this, i, f](const sparse::GradFactors& g) { decide(i, f, g); });
    }
  }

  bool before_step(int64_t step) override {
    if (!is_update(step)) return false;
    for (size_t i = 0; i < layers_.size(); ++i) {
      clear_grad_hooks(*layers_[i].p);
      Decision& d = decisions_[i];
      if (!d.ready) continue;
      int64_t nnz = apply_edit(ctx, layers_[i], d.edit);
      events_.push_back({step, layers_[i].name, d.k, d.k, nnz, layers_[i].p->density()});
    }
    decisions_.clear();
    return true;
  }

 private:
  struct Decision {
    bool ready = false;
    ops::TopologyEdit edit;
    int64_t k = 0;
  };

  void decide(size_t i, double f, const sparse::GradFactors& grad) {
    sparse::SparseParameter& p = *layers_[i].p;
    const int64_t nnz = p.col_idx.numel();
    const int64_t k = (int64_t)std::floor((double)nnz * f);
    Decision& d = decisions_[i];
    d.edit.keep = ops::magnitude_topk_mask(p, nnz - k, true, rng.next_u64());
    d.edit.grow = ops::grow_by_gradient(p, grad, k, d.edit.keep, nnz - k, rng.next_u64(), grow);
    d.edit.revive = true;
    d.edit.new_nnz_blocks = nnz;
    d.k = k;
    d.ready = true;
  }

  int64_t every_;
  double alpha_, end_fraction_;
  std::vector<SparseLayer> layers_;
  std::vector<Decision> decisions_;
};

}  // namespace

const Options<RigLOptions>& rigl_options() {
  using S = RigLOptions;
  static const Options<S> o = [] {
    Options<S> o;
    o.integer("update_every", &S::update_every, 100, Range::at_least(1), "steps between topology updates")
        .number("drop_fraction", &S::drop_fraction, 0.3, Range::closed(0, 1),
                "fraction of each layer's entries dropped and regrown at the first update (cosine-annealed)")
        .number("end_fraction", &S::end_fraction, 0.75, Range::closed(0, 1),
                "fraction of training after which the topology stays fixed");
    declare_grow_init(o, &S::grow_init);
    return o;
  }();
  return o;
}

MethodEntry rigl_entry() {
  return {"rigl", "RigL: drop the smallest |w|, grow the largest dense |g| (Evci et al. 2020)",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<RigL>(rigl_options().read(s, kSparsityPrefix)), seed);
          },
          rigl_options().info()};
}

}  // namespace sprout::sparsity
