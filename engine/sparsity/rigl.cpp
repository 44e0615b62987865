// RigL (Evci et al. 2020): every update_every steps until end_fraction of training,
// each layer drops the k = floor(nnz f(t)) smallest |w| and grows the k positions
// with the largest dense |g| among those not kept (a dropped position that is regrown
// is revived: value and state kept); f(t) is the cosine drop fraction. The dense
// gradient comes one layer at a time through the layer's dense_grad_hook during
// backward; the decision is made there, on the layer's device, and the dense gradient
// freed at once. Every count is known on the host, so an update step reads nothing
// back from a GPU. The optimizer step is skipped on update steps, as in RigL's code.
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

class RigL : public Sparsifier {
 public:
  explicit RigL(const nlohmann::json& s)
      : every_(s["update_every"].get<int64_t>()), alpha_(s["drop_fraction"].get<double>()),
        end_fraction_(s["end_fraction"].get<double>()) {
    SPROUT_CHECK(every_ > 0, "sparsity.update_every must be positive, got ", every_);
  }
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
      p->dense_grad_hook = [this, i, f](const Tensor& dense_grad) { decide(i, f, dense_grad); };
    }
  }

  bool before_step(int64_t step) override {
    if (!is_update(step)) return false;
    for (size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].p->dense_grad_hook = nullptr;
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

  void decide(size_t i, double f, const Tensor& dense_grad) {
    sparse::SparseParameter& p = *layers_[i].p;
    const int64_t nnz = p.col_idx.numel();
    const int64_t k = (int64_t)std::floor((double)nnz * f);
    Decision& d = decisions_[i];
    d.edit.keep = ops::magnitude_topk_mask(p, nnz - k, true, rng.next_u64());
    d.edit.grow = ops::topk_empty_positions(p, dense_grad, k, d.edit.keep, nnz - k, rng.next_u64());
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

SparsifierPtr make_rigl(const nlohmann::json& s) { return std::make_unique<RigL>(s); }

}  // namespace sprout::sparsity
