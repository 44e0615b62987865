// GraNet (Liu et al. 2021): every update_every steps from prune_start_epoch on,
// (a) until prune_end_epoch, gradual magnitude pruning to the cubic-schedule sparsity,
// global over all sparse layers (or per layer with sparsity.layerwise), then
// (b) until the end of training, neuroregeneration per layer: drop ceil(r_t nnz) more
// smallest |w| and grow as many empty positions with the largest dense |g| (value 0,
// state 0), r_t the death rate cosine-annealed from death_rate to death_rate_final.
// GMP (Zhu & Gupta) is (a) alone. The dense gradient arrives per layer through the
// layer's dense_grad_hook on update steps. The edit happens before the optimizer step,
// so on update steps the sparse layers' update is skipped (their gradient belongs to
// the old topology).
#include <algorithm>
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"
#include "engine/sparsity/select.h"

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
    layers_ = sparse_layers(ctx);
    if (nnz0_.empty()) for (auto& L : layers_) nnz0_.push_back(L.p->nnz());
    prune_keep_ = prune_decisions(step);
    regen_.assign(layers_.size(), {});
    if (!regenerate_) return;
    double r = annealed_rate(r0_, rf_, step, ctx.total_steps);
    for (size_t i = 0; i < layers_.size(); ++i)
      layers_[i].p->dense_grad_hook = [this, i, r](const Tensor& g) { regenerate(i, r, g); };
  }

  bool before_step(int64_t step) override {
    if (!is_update(step)) return false;
    for (size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].p->dense_grad_hook = nullptr;
      std::vector<uint8_t> keep = prune_keep_[i];
      std::vector<int64_t> grow;
      if (regenerate_ && regen_[i].ready) {
        keep = regen_[i].keep;
        grow = regen_[i].grow;
      }
      int64_t dropped = 0;
      for (uint8_t k : keep) dropped += !k;
      if (dropped == 0 && grow.empty()) continue;
      int64_t nnz = apply_edit(ctx, layers_[i], keep, grow);
      events_.push_back({step, layers_[i].name, dropped, (int64_t)grow.size(), nnz, layers_[i].p->density()});
    }
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
  struct Regen {
    bool ready = false;
    std::vector<uint8_t> keep;
    std::vector<int64_t> grow;
  };

  // Magnitude pruning to the schedule's density: global threshold over all layers'
  // |w|, or per layer. Returns keep masks (all ones once pruning has ended).
  std::vector<std::vector<uint8_t>> prune_decisions(int64_t step) {
    std::vector<std::vector<uint8_t>> keep(layers_.size());
    std::vector<HostLayer> hosts;
    int64_t total_dense = 0, total_nnz = 0;
    for (auto& L : layers_) {
      hosts.push_back(read_host(*L.p));
      total_dense += L.p->dense_numel();
      total_nnz += L.p->nnz();
    }
    for (size_t i = 0; i < layers_.size(); ++i) keep[i].assign(hosts[i].values.size(), 1);
    if (step > tf_ * ctx.steps_per_epoch) return keep;
    double d = target_density(step);
    if (layerwise_) {
      for (size_t i = 0; i < layers_.size(); ++i) {
        int64_t want = (int64_t)std::llround((double)nnz0_[i] * d / d_i_);
        if (want < (int64_t)hosts[i].values.size()) keep[i] = keep_largest(hosts[i].values, want, rng);
      }
      return keep;
    }
    int64_t want = (int64_t)std::llround(d * (double)total_dense);
    if (want >= total_nnz) return keep;
    // Global: the want-th largest |w| over all layers is the threshold.
    std::vector<float> mags;
    mags.reserve((size_t)total_nnz);
    for (auto& h : hosts) for (float v : h.values) mags.push_back(std::fabs(v));
    std::nth_element(mags.begin(), mags.begin() + (want - 1), mags.end(), std::greater<float>());
    float thr = mags[(size_t)(want - 1)];
    // Keep everything above the threshold, then fill ties at it up to `want` exactly.
    int64_t above = 0;
    for (float m : mags) above += m > thr;
    int64_t ties_left = want - above;
    for (size_t i = 0; i < layers_.size(); ++i)
      for (size_t e = 0; e < hosts[i].values.size(); ++e) {
        float m = std::fabs(hosts[i].values[e]);
        keep[i][e] = m > thr || (m == thr && ties_left-- > 0);
      }
    // Every layer keeps at least one entry so no layer is cut off.
    for (size_t i = 0; i < layers_.size(); ++i) {
      bool any = std::find(keep[i].begin(), keep[i].end(), 1) != keep[i].end();
      if (!any && !keep[i].empty()) keep[i] = keep_largest(hosts[i].values, 1, rng);
    }
    return keep;
  }

  void regenerate(size_t i, double r, const Tensor& dense_grad) {
    const SparseLayer& L = layers_[i];
    HostLayer h = read_host(*L.p);
    std::vector<uint8_t> keep = prune_keep_[i];
    // Death: ceil(r * nnz) more of the smallest |w| among the survivors.
    std::vector<float> surv;
    std::vector<size_t> surv_idx;
    for (size_t e = 0; e < keep.size(); ++e) if (keep[e]) { surv.push_back(h.values[e]); surv_idx.push_back(e); }
    int64_t n = (int64_t)surv.size();
    int64_t k = std::min<int64_t>(n, (int64_t)std::ceil(r * (double)n));
    std::vector<uint8_t> k2 = keep_largest(surv, n - k, rng);
    for (size_t j = 0; j < surv_idx.size(); ++j) keep[surv_idx[j]] = k2[j];
    std::vector<int64_t> kept;
    for (size_t e = 0; e < keep.size(); ++e) if (keep[e]) kept.push_back(h.positions[e]);
    std::vector<float> g = host_floats(dense_grad);
    regen_[i].grow = top_k_excluding(g.data(), (int64_t)g.size(), kept, k);
    regen_[i].keep = std::move(keep);
    regen_[i].ready = true;
  }

  bool regenerate_;
  int64_t every_;
  double d_i_, d_f_;
  int64_t t0_, tf_;
  double r0_, rf_;
  bool layerwise_;
  std::vector<SparseLayer> layers_;
  std::vector<std::vector<uint8_t>> prune_keep_;
  std::vector<Regen> regen_;
  std::vector<int64_t> nnz0_;
};

}  // namespace

SparsifierPtr make_granet(const nlohmann::json& s) { return std::make_unique<GradualPruning>(s, true); }
SparsifierPtr make_gmp(const nlohmann::json& s) { return std::make_unique<GradualPruning>(s, false); }

}  // namespace sprout::sparsity
