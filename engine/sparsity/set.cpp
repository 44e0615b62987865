// SET (Mocanu et al. 2018): after every epoch but the last, each layer drops the
// fraction zeta of its positive weights closest to zero and, separately, of its
// negative weights, then grows as many at uniformly random open positions (value 0,
// optimizer state 0). Needs no dense gradient. The "set_magnitude" variant (RigL's SET
// baseline) drops the smallest |w| on RigL's schedule and grows at random. Both decide
// on the layer's device; random positions come from a seeded key per position, so the
// CPU and a GPU grow the same ones.
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

// Drops the entries `keep` leaves out and grows as many open positions (not kept)
// drawn uniformly, on the layer's device. A dropped position drawn again comes back as
// a new entry (value 0, state 0).
void drop_and_grow_random(const TrainContext& ctx, const SparseLayer& L, const Tensor& keep, int64_t kept,
                          int64_t step, Rng& rng, std::vector<UpdateEvent>& events) {
  const int64_t nnz = L.p->col_idx.numel(), k = nnz - kept;
  ops::TopologyEdit e;
  e.keep = keep;
  e.grow = ops::random_empty_positions(*L.p, k, rng.next_u64(), keep, kept);
  e.new_nnz_blocks = nnz;
  int64_t after = apply_edit(ctx, L, e);
  events.push_back({step, L.name, k, k, after, L.p->density()});
}

struct SetOptions {
  double zeta;
  std::string grow_init;
};

const Options<SetOptions>& set_options() {
  using S = SetOptions;
  static const Options<S> o = [] {
    Options<S> o;
    o.number("zeta", &S::zeta, 0.3, Range::closed_open(0, 1),
             "fraction of each sign's weights dropped and regrown at random after every epoch");
    declare_grow_init(o, &S::grow_init);
    return o;
  }();
  return o;
}

class Set : public Sparsifier {
 public:
  explicit Set(const SetOptions& o) : zeta_(o.zeta) {}
  std::string name() const override { return "set"; }
  // The sign rule in two edits: the first drops the smallest positive values, the
  // second the negative values closest to zero and grows as many. The split needs the
  // count of non-negative values: one small read per layer at the end of an epoch.
  void end_of_epoch(int64_t epoch) override {
    if (epoch + 1 >= ctx.epochs) return;
    const int64_t step = (epoch + 1) * ctx.steps_per_epoch;
    for (const SparseLayer& L : sparse_layers(ctx)) {
      sparse::SparseParameter& p = *L.p;
      const int64_t nnz = p.col_idx.numel(), pos = ops::count_nonnegative(p.values);
      const int64_t drop_pos = (int64_t)std::floor(zeta_ * (double)pos);
      const int64_t drop_neg = (int64_t)std::floor(zeta_ * (double)(nnz - pos));
      if (drop_pos > 0) {
        ops::TopologyEdit e;
        e.keep = ops::topk_mask(ops::magnitude_scores(p, rng.next_u64(), +1), nnz - drop_pos, true);
        e.new_nnz_blocks = nnz - drop_pos;
        apply_edit(ctx, L, e);
      }
      const int64_t now = p.col_idx.numel();
      Tensor keep = ops::topk_mask(ops::magnitude_scores(p, rng.next_u64(), -1), now - drop_neg, true);
      // Grown positions are open after both drops; the ones the first edit removed are
      // open already, so the grow counts every drop.
      ops::TopologyEdit e;
      e.keep = keep;
      e.grow = ops::random_empty_positions(p, drop_pos + drop_neg, rng.next_u64(), keep, now - drop_neg);
      e.new_nnz_blocks = nnz;
      int64_t after = apply_edit(ctx, L, e);
      events_.push_back({step, L.name, drop_pos + drop_neg, drop_pos + drop_neg, after, p.density()});
    }
  }

 private:
  double zeta_;
};

class SetMagnitude : public Sparsifier {
 public:
  explicit SetMagnitude(const RigLOptions& o)
      : every_(o.update_every), alpha_(o.drop_fraction), end_fraction_(o.end_fraction) {}
  std::string name() const override { return "set_magnitude"; }
  bool supports_blocks() const override { return true; }
  void after_step(int64_t step) override {
    int64_t end = (int64_t)(end_fraction_ * (double)ctx.total_steps);
    if (step % every_ != 0 || step >= end) return;
    double f = cosine_fraction(alpha_, step, end);
    for (const SparseLayer& L : sparse_layers(ctx)) {
      const int64_t nnz = L.p->col_idx.numel(), k = (int64_t)std::floor((double)nnz * f);
      Tensor keep = ops::magnitude_topk_mask(*L.p, nnz - k, true, rng.next_u64());
      drop_and_grow_random(ctx, L, keep, nnz - k, step, rng, events_);
    }
  }
 private:
  int64_t every_;
  double alpha_, end_fraction_;
};

}  // namespace

MethodEntry set_entry() {
  return {"set", "SET: after every epoch drop the fraction zeta of weights closest to zero, grow at random "
          "(Mocanu et al. 2018)",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<Set>(set_options().read(s, kSparsityPrefix)), seed);
          },
          set_options().info()};
}

MethodEntry set_magnitude_entry() {
  return {"set_magnitude", "RigL's SET baseline: drop the smallest |w| on RigL's schedule, grow at random",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<SetMagnitude>(rigl_options().read(s, kSparsityPrefix)), seed);
          },
          rigl_options().info()};
}

}  // namespace sprout::sparsity
