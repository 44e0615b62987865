// GraNet (Liu et al. 2021): every update_every steps from prune_start_epoch on,
// (a) until prune_end_epoch, gradual magnitude pruning to the cubic-schedule sparsity,
// global over all sparse layers (or per layer with sparsity.layerwise), then
// (b) until the end of training, neuroregeneration per layer: drop ceil(r_t nnz) more
// smallest |w| and grow as many empty positions with the largest dense |g| (value 0,
// state 0), r_t the death rate cosine-annealed from death_rate to death_rate_final.
// GMP (Zhu & Gupta) is (a) alone. The gradient arrives per layer through the layer's
// grad hooks on update steps and is ranked by ops::grow_by_gradient, like RigL's;
// every selection runs on the layer's device.
// The edit happens before the optimizer step, so on update steps the sparse layers'
// update is skipped (their gradient belongs to the old topology).
#include <algorithm>
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

// GraNet's options; GMP declares the same but init_density (it starts dense), the
// death rates and grow_init (it does not regenerate).
struct GradualOptions {
  int64_t update_every, prune_start_epoch, prune_end_epoch;
  double init_density, final_density, death_rate, death_rate_final;
  bool layerwise;
  std::string grow_init;
};

Options<GradualOptions> gradual_options(bool regenerate) {
  using S = GradualOptions;
  Options<S> o;
  o.integer("update_every", &S::update_every, 100, Range::at_least(1), "steps between topology updates");
  if (regenerate)
    o.number("init_density", &S::init_density, 0.5, Range::open_closed(0, 1), "density the layers start from");
  o.number("final_density", &S::final_density, 0.1, Range::open_closed(0, 1), "density the pruning ends at")
      .integer("prune_start_epoch", &S::prune_start_epoch, 0, Range::at_least(0), "epoch the pruning starts")
      .integer("prune_end_epoch", &S::prune_end_epoch, 3, Range::at_least(0),
               "epoch the pruning reaches final_density")
      .flag("layerwise", &S::layerwise, false, "prune each layer to the density (default: one global ranking of |w|)");
  if (!regenerate) return o;
  o.number("death_rate", &S::death_rate, 0.5, Range::closed(0, 1),
           "fraction of each layer's entries dropped and regrown at the first update (cosine-annealed)")
      .number("death_rate_final", &S::death_rate_final, 0.005, Range::closed(0, 1),
              "the death rate at the end of training");
  declare_grow_init(o, &S::grow_init);
  return o;
}

const Options<GradualOptions>& granet_options() {
  static const Options<GradualOptions> o = gradual_options(true);
  return o;
}

const Options<GradualOptions>& gmp_options() {
  static const Options<GradualOptions> o = gradual_options(false);
  return o;
}

class GradualPruning : public Sparsifier {
 public:
  GradualPruning(const GradualOptions& o, bool regenerate)
      : regenerate_(regenerate), every_(o.update_every), d_i_(regenerate ? o.init_density : 1.0),
        d_f_(o.final_density), t0_(o.prune_start_epoch), tf_(o.prune_end_epoch), r0_(o.death_rate),
        rf_(o.death_rate_final), layerwise_(o.layerwise) {
    SPROUT_CHECK(d_f_ <= d_i_, "sparsity.final_density ", d_f_, " must be in (0, init_density ", d_i_, "]");
    SPROUT_CHECK(tf_ >= t0_, "sparsity.prune_end_epoch ", tf_, " before prune_start_epoch ", t0_);
  }
  std::string name() const override { return regenerate_ ? "granet" : "gmp"; }
  double initial_density(double) const override { return d_i_; }
  bool store_dense_layers_sparse() const override { return true; }

  // Target density at `step` on the cubic schedule.
  double target_density(int64_t step) const {
    int64_t k0 = t0_ * ctx.steps_per_epoch, kf = tf_ * ctx.steps_per_epoch;
    double progress = kf > k0 ? (double)(step - k0) / (double)(kf - k0) : 1.0;
    return 1.0 - cubic_sparsity(1.0 - d_i_, 1.0 - d_f_, progress);
  }

  bool is_update(int64_t step) const {
    return step >= t0_ * ctx.steps_per_epoch && step % every_ == 0;
  }

  void before_forward(int64_t step) override {
    if (!is_update(step)) return;
    if (!regenerate_ && step > tf_ * ctx.steps_per_epoch) return;  // GMP after its prune: nothing to decide
    layers_ = sparse_layers(ctx);
    if (nnz0_.empty()) for (auto& L : layers_) nnz0_.push_back(L.p->nnz());
    plans_.assign(layers_.size(), Plan{});
    for (size_t i = 0; i < layers_.size(); ++i) {
      SPROUT_CHECK(layers_[i].p->block == 1, name(), " edits CSR layers; ", layers_[i].name, " has block ",
                   layers_[i].p->block);
      plans_[i].scores = ops::magnitude_scores(*layers_[i].p, rng.next_u64());
      plans_[i].survivors = layers_[i].p->col_idx.numel();
    }
    prune_counts(step);
    if (!regenerate_) return;
    double r = annealed_rate(r0_, rf_, step, ctx.total_steps);
    for (size_t i = 0; i < layers_.size(); ++i)
      set_grad_hooks(*layers_[i].p, [this, i, r](const sparse::GradFactors& g) { regenerate(i, r, g); });
  }

  bool before_step(int64_t step) override {
    if (!is_update(step) || plans_.empty()) return false;
    for (size_t i = 0; i < plans_.size(); ++i) {
      clear_grad_hooks(*layers_[i].p);
      Plan& pl = plans_[i];
      const int64_t nnz = layers_[i].p->col_idx.numel();
      if (pl.grown == 0 && pl.survivors >= nnz) continue;  // nothing changes
      if (!pl.edit.keep.defined()) {  // pruning alone
        pl.edit.keep = ops::topk_mask(pl.scores, pl.survivors, true);
        pl.edit.new_nnz_blocks = pl.survivors;
      }
      const int64_t kept = pl.edit.new_nnz_blocks - pl.grown;
      int64_t after = apply_edit(ctx, layers_[i], pl.edit);
      events_.push_back({step, layers_[i].name, nnz - kept, pl.grown, after, layers_[i].p->density()});
    }
    plans_.clear();
    return false;
  }

  nlohmann::json state() const override {
    return {{"rng", rng.state()}, {"nnz0", nnz0_}};
  }
  void load_state(const nlohmann::json& s) override {
    Sparsifier::load_state(s);
    if (s.contains("nnz0")) nnz0_ = s["nnz0"].get<std::vector<int64_t>>();
    for (int64_t n : nnz0_) SPROUT_CHECK(n >= 0, "granet: state has a negative initial layer size ", n);
  }

 private:
  // One layer's update: noisy magnitude scores (one draw serves the prune and the
  // death, so both keep a top set of the same order), the entries the prune leaves,
  // and the edit once decided.
  struct Plan {
    Tensor scores;
    int64_t survivors = 0;
    ops::TopologyEdit edit;
    int64_t grown = 0;
  };

  // Magnitude pruning to the schedule's density, per layer or with one global ranking
  // of |w| over all layers (every layer keeps at least one entry). Sets each plan's
  // survivors. The global ranking is made on the device; its per-layer counts size the
  // new structures, so its mask is read back (one byte per stored entry, on prune steps).
  void prune_counts(int64_t step) {
    if (step > tf_ * ctx.steps_per_epoch) return;
    const double d = target_density(step);
    if (layerwise_) {
      SPROUT_CHECK(nnz0_.size() == layers_.size(), "granet: state has ", nnz0_.size(), " initial layer sizes for ",
                   layers_.size(), " sparse layers");
      for (size_t i = 0; i < layers_.size(); ++i) {
        const int64_t want = (int64_t)std::llround((double)nnz0_[i] * d / d_i_);
        plans_[i].survivors = std::min(plans_[i].survivors, std::max<int64_t>(want, 1));
      }
      return;
    }
    int64_t total_dense = 0, total_nnz = 0;
    for (size_t i = 0; i < layers_.size(); ++i) {
      total_dense += layers_[i].p->dense_numel();
      total_nnz += plans_[i].scores.numel();
    }
    const int64_t want = (int64_t)std::llround(d * (double)total_dense);
    if (want >= total_nnz || layers_.empty()) return;
    const Tensor& first = plans_[0].scores;
    Tensor all = Tensor::empty({total_nnz}, first.dtype(), first.device(), MemCategory::Workspace);
    int64_t off = 0;
    for (auto& pl : plans_) {
      all.slice(off, pl.scores.numel()).copy_from(pl.scores);
      off += pl.scores.numel();
    }
    std::vector<uint8_t> mask = ops::topk_mask(all, want, true).to_vector<uint8_t>();
    off = 0;
    for (auto& pl : plans_) {
      const int64_t n = pl.scores.numel();
      int64_t kept = 0;
      for (int64_t e = off; e < off + n; ++e) kept += mask[(size_t)e];
      pl.survivors = std::min(n, std::max<int64_t>(kept, 1));
      off += n;
    }
  }

  // Death of ceil(r * survivors) more of the smallest |w| and as many grown open
  // positions with the largest dense |g| (a position dropped now may be regrown, as a
  // new entry), decided on the layer's device.
  void regenerate(size_t i, double r, const sparse::GradFactors& grad) {
    Plan& pl = plans_[i];
    const int64_t n = pl.survivors;
    const int64_t k = std::min<int64_t>(n, (int64_t)std::ceil(r * (double)n));
    pl.edit.keep = ops::topk_mask(pl.scores, n - k, true);
    pl.edit.grow = ops::grow_by_gradient(*layers_[i].p, grad, k, pl.edit.keep, n - k, rng.next_u64(), grow);
    pl.edit.new_nnz_blocks = n;
    pl.grown = k;
  }

  bool regenerate_;
  int64_t every_;
  double d_i_, d_f_;
  int64_t t0_, tf_;
  double r0_, rf_;
  bool layerwise_;
  std::vector<SparseLayer> layers_;
  std::vector<Plan> plans_;
  std::vector<int64_t> nnz0_;
};

}  // namespace

MethodEntry granet_entry() {
  return {"granet", "GraNet: gradual magnitude pruning with neuroregeneration by dense |g| (Liu et al. 2021)",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<GradualPruning>(granet_options().read(s, kSparsityPrefix), true), seed);
          },
          granet_options().info()};
}

MethodEntry gmp_entry() {
  return {"gmp", "GMP: gradual magnitude pruning from dense on the cubic schedule (Zhu & Gupta 2017)",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<GradualPruning>(gmp_options().read(s, kSparsityPrefix), false), seed);
          },
          gmp_options().info()};
}

}  // namespace sprout::sparsity
