// dense: ordinary training; the model is left as it is.
// static: the random structure drawn at initialisation never changes.
// SNIP (Lee et al. 2019): layers start with every position stored; on the first
// step's batch each weight is scored |w g| (g is the gradient at every position, the
// SDDMM at density 1), the global top density x N survive, and training continues
// with that structure fixed. The first step's update is skipped (its gradient belongs
// to the full structure).
#include <algorithm>
#include <cmath>

#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

namespace {

class DenseTraining : public Sparsifier {
 public:
  std::string name() const override { return "dense"; }
  bool makes_layers_sparse() const override { return false; }
};

class Static : public Sparsifier {
 public:
  std::string name() const override { return "static"; }
  bool supports_blocks() const override { return true; }
};

class Snip : public Sparsifier {
 public:
  explicit Snip(double density) : density_(density) {}
  std::string name() const override { return "snip"; }
  double initial_density(double) const override { return 1.0; }
  bool before_step(int64_t step) override {
    if (step != 0) return false;
    auto layers = sparse_layers(ctx);
    std::vector<std::vector<float>> scores;
    int64_t total = 0;
    std::vector<float> all;
    for (auto& L : layers) {
      HostLayer h = read_host(*L.p);
      Tensor g = L.p->values.grad();
      SPROUT_CHECK(g.defined(), "snip: layer ", L.name, " has no gradient on the first step");
      std::vector<float> gv = host_floats(g);
      std::vector<float> sc(h.values.size());
      for (size_t e = 0; e < sc.size(); ++e) sc[e] = std::fabs(h.values[e] * gv[e]);
      all.insert(all.end(), sc.begin(), sc.end());
      total += L.p->dense_numel();
      scores.push_back(std::move(sc));
    }
    int64_t want = std::max<int64_t>(1, (int64_t)std::llround(density_ * (double)total));
    if (want >= (int64_t)all.size()) return false;
    std::nth_element(all.begin(), all.begin() + (want - 1), all.end(), std::greater<float>());
    float thr = all[(size_t)(want - 1)];
    int64_t above = 0;
    for (float v : all) above += v > thr;
    int64_t ties = want - above;
    for (size_t i = 0; i < layers.size(); ++i) {
      std::vector<uint8_t> keep(scores[i].size());
      for (size_t e = 0; e < keep.size(); ++e) keep[e] = scores[i][e] > thr || (scores[i][e] == thr && ties-- > 0);
      int64_t dropped = (int64_t)std::count(keep.begin(), keep.end(), 0);
      int64_t nnz = apply_edit(ctx, layers[i], keep, {});
      events_.push_back({step, layers[i].name, dropped, 0, nnz, layers[i].p->density()});
    }
    return true;
  }
 private:
  double density_;
};

}  // namespace

MethodEntry dense_entry() {
  return {"dense", "dense training: no sparsity",
          [](const nlohmann::json&, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<DenseTraining>(), seed);
          },
          {}};
}

MethodEntry static_entry() {
  return {"static", "a random structure at sparsity.density that never changes",
          [](const nlohmann::json&, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<Static>(), seed);
          },
          {}};
}

// Keeps sparsity.density (a common option) of the weights.
MethodEntry snip_entry() {
  return {"snip", "SNIP: keep the top sparsity.density of |w g| on the first batch, then train static "
          "(Lee et al. 2019)",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<Snip>(read_sparsify_options(s).density), seed);
          },
          {}};
}

}  // namespace sprout::sparsity
