// SET (Mocanu et al. 2018): after every epoch but the last, each layer drops the
// fraction zeta of its positive weights closest to zero and, separately, of its
// negative weights, then grows as many at uniformly random empty positions (value 0,
// optimizer state 0). Needs no dense quantity. The "set_magnitude" variant (RigL's SET
// baseline) drops the smallest |w| on RigL's schedule and grows at random.
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"
#include "engine/sparsity/select.h"

namespace sprout::sparsity {

namespace {

void drop_and_grow_random(const TrainContext& ctx, const SparseLayer& L,
                          const std::vector<uint8_t>& keep, int64_t step, Rng& rng,
                          std::vector<UpdateEvent>& events) {
  HostLayer h = read_host(*L.p);
  std::vector<int64_t> kept;
  for (size_t e = 0; e < keep.size(); ++e) if (keep[e]) kept.push_back(h.positions[e]);
  int64_t k = (int64_t)(keep.size() - kept.size());
  std::vector<int64_t> grow = random_empty(L.p->rows, L.p->cols, kept, k, rng);
  int64_t nnz = apply_edit(ctx, L, keep, grow);
  events.push_back({step, L.name, k, (int64_t)grow.size(), nnz, L.p->density()});
}

class Set : public Sparsifier {
 public:
  explicit Set(const nlohmann::json& s) : zeta_(s["zeta"].get<double>()) {
    SPROUT_CHECK(zeta_ >= 0 && zeta_ < 1, "sparsity.zeta ", zeta_, " not in [0, 1)");
  }
  std::string name() const override { return "set"; }
  void end_of_epoch(int64_t epoch) override {
    if (epoch + 1 >= ctx.epochs) return;
    for (const SparseLayer& L : sparse_layers(ctx)) {
      HostLayer h = read_host(*L.p);
      drop_and_grow_random(ctx, L, set_keep(h.values, zeta_), (epoch + 1) * ctx.steps_per_epoch,
                           rng, events_);
    }
  }
 private:
  double zeta_;
};

class SetMagnitude : public Sparsifier {
 public:
  explicit SetMagnitude(const nlohmann::json& s)
      : every_(s["update_every"].get<int64_t>()), alpha_(s["drop_fraction"].get<double>()),
        end_fraction_(s["end_fraction"].get<double>()) {
    SPROUT_CHECK(every_ > 0, "sparsity.update_every must be positive, got ", every_);
  }
  std::string name() const override { return "set_magnitude"; }
  void after_step(int64_t step) override {
    int64_t end = (int64_t)(end_fraction_ * (double)ctx.total_steps);
    if (step % every_ != 0 || step >= end) return;
    double f = cosine_fraction(alpha_, step, end);
    for (const SparseLayer& L : sparse_layers(ctx)) {
      HostLayer h = read_host(*L.p);
      int64_t nnz = (int64_t)h.values.size();
      int64_t k = (int64_t)std::floor((double)nnz * f);
      drop_and_grow_random(ctx, L, keep_largest(h.values, nnz - k, rng), step, rng, events_);
    }
  }
 private:
  int64_t every_;
  double alpha_, end_fraction_;
};

}  // namespace

SparsifierPtr make_set(const nlohmann::json& s, bool magnitude_variant) {
  if (magnitude_variant) return std::make_unique<SetMagnitude>(s);
  return std::make_unique<Set>(s);
}

}  // namespace sprout::sparsity
