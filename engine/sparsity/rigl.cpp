// RigL (Evci et al. 2020): every update_every steps until end_fraction of training,
// each layer drops the k = floor(nnz f(t)) smallest |w| and grows the k positions
// with the largest dense |g| among those not kept; f(t) is the cosine drop fraction.
// The dense gradient comes one layer at a time through the layer's dense_grad_hook
// during backward; the decision is made there and the dense gradient freed at once.
// The optimizer step is skipped on update steps, as in RigL's code.
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"
#include "engine/sparsity/select.h"

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
      nn::SparseParameter* p = layers_[i].p;
      p->dense_grad_hook = [this, i, f](const Tensor& dense_grad) { decide(i, f, dense_grad); };
    }
  }

  bool before_step(int64_t step) override {
    if (!is_update(step)) return false;
    for (size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].p->dense_grad_hook = nullptr;
      Decision& d = decisions_[i];
      if (!d.ready) continue;
      int64_t nnz = apply_edit(ctx, layers_[i], d.keep, d.grow);
      events_.push_back({step, layers_[i].name, d.dropped, d.grown, nnz, layers_[i].p->density()});
    }
    decisions_.clear();
    return true;
  }

 private:
  struct Decision {
    bool ready = false;
    std::vector<uint8_t> keep;
    std::vector<int64_t> grow;
    int64_t dropped = 0, grown = 0;
  };

  void decide(size_t i, double f, const Tensor& dense_grad) {
    const SparseLayer& L = layers_[i];
    HostLayer h = read_host(*L.p);
    int64_t nnz = (int64_t)h.values.size();
    int64_t k = (int64_t)std::floor((double)nnz * f);
    Decision& d = decisions_[i];
    d.keep = keep_largest(h.values, nnz - k, rng);
    std::vector<int64_t> kept;
    kept.reserve((size_t)(nnz - k));
    for (int64_t e = 0; e < nnz; ++e) if (d.keep[(size_t)e]) kept.push_back(h.positions[(size_t)e]);
    std::vector<float> g = host_floats(dense_grad);
    std::vector<int64_t> grow = top_k_excluding(g.data(), (int64_t)g.size(), kept, k);
    // A grown position that was dropped in this step simply stays (value and state kept).
    int64_t regrown = 0;
    for (int64_t pos : grow) {
      auto it = std::lower_bound(h.positions.begin(), h.positions.end(), pos);
      if (it != h.positions.end() && *it == pos) {
        d.keep[(size_t)(it - h.positions.begin())] = 1;
        ++regrown;
      } else {
        d.grow.push_back(pos);
      }
    }
    d.dropped = k - regrown;
    d.grown = (int64_t)d.grow.size();
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
