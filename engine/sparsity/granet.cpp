// GraNet (Liu et al. 2021): every update_every steps from prune_start_epoch on,
// (a) until prune_end_epoch, gradual magnitude pruning to the cubic-schedule sparsity,
// global over all sparse layers (or per layer with sparsity.layerwise), then
// (b) until the end of training, neuroregeneration per layer: drop ceil(r_t nnz) more
// smallest |w| and grow as many empty positions with the largest dense |g| (value 0,
// state 0), r_t the death rate cosine-annealed from death_rate to death_rate_final.
// GMP (Zhu & Gupta) is (a) alone. The dense gradient arrives per layer through the
// layer's dense_grad_hook on update steps; every selection runs on the layer's device.
// The edit happens before the optimizer step, so on update steps the sparse layers'
// update is skipped (their gradient belongs to the old topology).
#include <algorithm>
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

class GradualPruning : public Sparsifier {
 public:
  GradualPruning(const nlohmann::json& s, bool regenerate)
      : regenerate_(regenerate), every_(s["update_every"].get<int64_t>()),
        d_i_(regenerate ? s["init_density"].get<double>() : 1.0),
        d_f_(s["final_density"].get<double>()), t0_(s["prune_start_epoch"].get<int64_t>()),
        tf_(s["prune_end_epoch"].get<int64_t>()), r0_(s["death_rate"].get<double>()),
        rf_(s["death_rate_final"].get<double>()), layerwise_(s["layerwise"].get<bool>()) {
    SPROUT_CHECK(every_ > 0, "sparsity.update_every must be positive, got ", every_);
    SPROUT_CHECK(d_f_ > 0 && d_f_ <= d_i_, "sparsity.final_density ", d_f_,
                 " must be in (0, init_density ", d_i_, "]");
    SPROUT_CHECK(tf_ >= t0_, "sparsity.prune_end_epoch ", tf_, " before prune_start_epoch ", t0_);
  }
  std::string name() const override { return regenerate_ ? "granet" : "gmp"; }
  double initial_density(const nlohmann::json&) const override { return d_i_; }
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
      layers_[i].p->dense_grad_hook = [this, i, r](const Tensor& g) { regenerate(i, r, g); };
  }

  bool before_step(int64_t step) override {
    if (!is_update(step) || plans_.empty()) return false;
    for (size_t i = 0; i < plans_.size(); ++i) {
      layers_[i].p->dense_grad_hook = nullptr;
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
  void regenerate(size_t i, double r, const Tensor& dense_grad) {
    Plan& pl = plans_[i];
    const int64_t n = pl.survivors;
    const int64_t k = std::min<int64_t>(n, (int64_t)std::ceil(r * (double)n));
    pl.edit.keep = ops::topk_mask(pl.scores, n - k, true);
    pl.edit.grow = ops::topk_empty_positions(*layers_[i].p, dense_grad, k, pl.edit.keep, n - k, rng.next_u64());
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

SparsifierPtr make_granet(const nlohmann::json& s) { return std::make_unique<GradualPruning>(s, true); }
SparsifierPtr make_gmp(const nlohmann::json& s) { return std::make_unique<GradualPruning>(s, false); }

}  // namespace sprout::sparsity
