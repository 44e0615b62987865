// Pruning at initialisation (Haroon, arXiv 2209.02201).
// K-starts: k random masks at the layer budget; for the first warm_epochs the layer
// trains on their union while each mask's fitness accumulates (sum of |w| over its
// positions at the end, or of |g| over the epochs, or both normalised and added);
// the fittest mask (summed over layers) is kept and training continues static.
// Dissipating gradients: over the first warm_epochs, weights whose value stays within
// phi of its initial value (|w - w0| <= phi |w0|) are removed, smallest relative
// change first, on a linear path to final_density; the last warm epoch removes by
// relative change until the target is met. Needs the initial values w0 of the layers.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/autograd/node.h"
#include "engine/ops/elementwise.h"
#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"
#include "engine/sparsity/select.h"

namespace sprout::sparsity {

namespace {

struct KStartsOptions {
  int64_t k, warm_epochs;
  std::string fitness;
};
struct DissipatingOptions {
  int64_t warm_epochs;
  double phi, init_density, final_density;
};
// kstarts_dissipating: K-starts' options and dissipating's but init_density (it
// dissipates from sparsity.density, the density K-starts kept).
struct KStartsDissipatingOptions {
  int64_t k, warm_epochs;
  std::string fitness;
  double phi, final_density;
};

const char* const kWarmEpochsHelp = "epochs of K-starts' union training, and of dissipating's pruning";

// K-starts' options, for kstarts and kstarts_dissipating.
template <class S>
Options<S>& declare_kstarts(Options<S>& o) {
  return o.integer("k", &S::k, 4, Range::at_least(1), "random masks trained on their union at the start")
      .integer("warm_epochs", &S::warm_epochs, 2, Range::at_least(1), kWarmEpochsHelp)
      .text("fitness", &S::fitness, "weight", {"weight", "gradient", "both"},
            "a mask's score: sum of its |w|, of its |g| over the epochs, or both normalised and added");
}

// Dissipating's pruning target and threshold, for dissipating and kstarts_dissipating.
template <class S>
Options<S>& declare_dissipating(Options<S>& o) {
  return o.number("phi", &S::phi, 0.1, Range::at_least(0),
                  "a weight whose relative change |w - w0| / |w0| stays within phi is removed")
      .number("final_density", &S::final_density, 0.1, Range::open_closed(0, 1), "density the pruning ends at");
}

const Options<KStartsOptions>& kstarts_options() {
  static const Options<KStartsOptions> o = [] {
    Options<KStartsOptions> o;
    return declare_kstarts(o);
  }();
  return o;
}

const Options<DissipatingOptions>& dissipating_options() {
  using S = DissipatingOptions;
  static const Options<S> o = [] {
    Options<S> o;
    o.integer("warm_epochs", &S::warm_epochs, 2, Range::at_least(1), kWarmEpochsHelp)
        .number("init_density", &S::init_density, 0.5, Range::open_closed(0, 1), "density the layers start from");
    return declare_dissipating(o);
  }();
  return o;
}

const Options<KStartsDissipatingOptions>& kstarts_dissipating_options() {
  static const Options<KStartsDissipatingOptions> o = [] {
    Options<KStartsDissipatingOptions> o;
    return declare_dissipating(declare_kstarts(o));
  }();
  return o;
}

class KStarts : public Sparsifier {
 public:
  explicit KStarts(const KStartsOptions& o) : k_(o.k), epochs_(o.warm_epochs), fitness_(o.fitness) {}
  std::string name() const override { return "kstarts"; }

  std::vector<int64_t> init_positions(size_t index, int64_t rows, int64_t cols, int64_t nnz) override {
    std::vector<std::vector<int64_t>> masks;
    std::vector<int64_t> all;
    for (int64_t m = 0; m < k_; ++m) {
      masks.push_back(random_empty(rows, cols, {}, nnz, rng));
      all.insert(all.end(), masks.back().begin(), masks.back().end());
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    // member[e * k + m] = 1 when union entry e belongs to mask m.
    std::vector<uint8_t> member(all.size() * (size_t)k_, 0);
    for (int64_t m = 0; m < k_; ++m)
      for (int64_t p : masks[(size_t)m]) {
        size_t e = (size_t)(std::lower_bound(all.begin(), all.end(), p) - all.begin());
        member[e * (size_t)k_ + (size_t)m] = 1;
      }
    if (members_.size() <= index) members_.resize(index + 1);
    members_[index] = std::move(member);
    return all;
  }

  // Gradient fitness: sum over the window's steps of |g| per entry, accumulated on the
  // weight's device (no host copy per step) and split by member once at the end.
  void after_step(int64_t step) override {
    if (chosen_ || fitness_ == "weight" || step >= epochs_ * ctx.steps_per_epoch) return;
    auto layers = sparse_layers(ctx);
    if (grad_sum_.empty()) grad_sum_.resize(layers.size());
    autograd::NoGradGuard ng;
    MemoryScope ms(MemCategory::Workspace);
    for (size_t i = 0; i < layers.size(); ++i) {
      Tensor g = layers[i].p->values.grad();
      if (!g.defined()) continue;
      if (!grad_sum_[i].defined()) grad_sum_[i] = Tensor::zeros(g.shape(), g.dtype(), g.device(), MemCategory::Other);
      ops::add_(grad_sum_[i], ops::relu(g));  // |g| = relu(g) + relu(-g)
      ops::add_(grad_sum_[i], ops::relu(ops::scale(g, -1.0)));
    }
  }

  void end_of_epoch(int64_t epoch) override {
    if (chosen_ || epoch + 1 < epochs_) return;
    auto layers = sparse_layers(ctx);
    std::vector<double> wfit((size_t)k_, 0.0), gfit((size_t)k_, 0.0);
    std::vector<HostLayer> hosts;
    for (size_t i = 0; i < layers.size(); ++i) {
      hosts.push_back(read_host(*layers[i].p));
      for (size_t e = 0; e < hosts[i].values.size(); ++e)
        for (int64_t m = 0; m < k_; ++m)
          if (members_[i][e * (size_t)k_ + (size_t)m]) wfit[(size_t)m] += std::fabs(hosts[i].values[e]);
      if (i < grad_sum_.size() && grad_sum_[i].defined()) {
        Tensor h = grad_sum_[i].to(Device::cpu());
        std::vector<double> gs = (h.dtype() == DType::F64 ? h : h.to_dtype(DType::F64)).to_vector<double>();
        for (size_t e = 0; e < gs.size(); ++e)
          for (int64_t m = 0; m < k_; ++m)
            if (members_[i][e * (size_t)k_ + (size_t)m]) gfit[(size_t)m] += gs[e];
      }
    }
    auto norm = [](std::vector<double> v) {
      double mx = *std::max_element(v.begin(), v.end());
      if (mx > 0) for (double& x : v) x /= mx;
      return v;
    };
    std::vector<double> fit = fitness_ == "weight" ? wfit : fitness_ == "gradient" ? gfit : norm(wfit);
    if (fitness_ == "both") { auto g = norm(gfit); for (size_t m = 0; m < fit.size(); ++m) fit[m] += g[m]; }
    best_ = (int64_t)(std::max_element(fit.begin(), fit.end()) - fit.begin());
    for (size_t i = 0; i < layers.size(); ++i) {
      std::vector<uint8_t> keep(hosts[i].values.size());
      for (size_t e = 0; e < keep.size(); ++e) keep[e] = members_[i][e * (size_t)k_ + (size_t)best_];
      int64_t dropped = (int64_t)std::count(keep.begin(), keep.end(), 0);
      int64_t nnz = apply_edit(ctx, layers[i], keep, {});
      events_.push_back({(epoch + 1) * ctx.steps_per_epoch, layers[i].name, dropped, 0, nnz, layers[i].p->density()});
    }
    chosen_ = true;
    members_.clear();
    grad_sum_.clear();
  }

  int64_t best() const { return best_; }

 private:
  int64_t k_, epochs_;
  std::string fitness_;
  std::vector<std::vector<uint8_t>> members_;
  std::vector<Tensor> grad_sum_;  // per layer: sum of |g| per entry over the window
  bool chosen_ = false;
  int64_t best_ = -1;
};

class Dissipating : public Sparsifier {
 public:
  explicit Dissipating(const DissipatingOptions& o)
      : epochs_(o.warm_epochs), phi_(o.phi), d_i_(o.init_density), d_f_(o.final_density) {
    SPROUT_CHECK(d_f_ <= d_i_, "sparsity.final_density ", d_f_, " must be in (0, init_density]");
  }
  std::string name() const override { return "dissipating"; }
  double initial_density(double) const override { return d_i_; }

  // The combination starts dissipating after K-starts has chosen its mask.
  void start_at_epoch(int64_t e) { start_ = e; }

  void before_forward(int64_t step) override {
    if (step != start_ * ctx.steps_per_epoch || !w0_.empty()) return;
    for (auto& L : sparse_layers(ctx)) {
      HostLayer h = read_host(*L.p);
      w0_.push_back({h.positions, h.values});
    }
  }

  void end_of_epoch(int64_t epoch_abs) override {
    int64_t epoch = epoch_abs - start_;
    if (epoch < 0 || epoch >= epochs_ || w0_.empty()) return;
    bool last = epoch + 1 == epochs_;
    double target = d_i_ + (d_f_ - d_i_) * (double)(epoch + 1) / (double)epochs_;
    auto layers = sparse_layers(ctx);
    for (size_t i = 0; i < layers.size(); ++i) {
      HostLayer h = read_host(*layers[i].p);
      int64_t want = std::max<int64_t>(1, (int64_t)std::llround(target * (double)layers[i].p->dense_numel()));
      int64_t n = (int64_t)h.values.size();
      if (want >= n) continue;
      // Relative change of each surviving entry since initialisation.
      std::vector<double> rel((size_t)n);
      const auto& [pos0, val0] = w0_[i];
      for (int64_t e = 0; e < n; ++e) {
        size_t j = (size_t)(std::lower_bound(pos0.begin(), pos0.end(), h.positions[(size_t)e]) - pos0.begin());
        double w0 = val0[j];
        rel[(size_t)e] = std::fabs((double)h.values[(size_t)e] - w0) / std::max(std::fabs(w0), 1e-12);
      }
      std::vector<int64_t> order((size_t)n);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rel[(size_t)a] < rel[(size_t)b]; });
      std::vector<uint8_t> keep((size_t)n, 1);
      int64_t removed = 0;
      for (int64_t e : order) {
        if (n - removed <= want) break;
        if (!last && rel[(size_t)e] > phi_) break;
        keep[(size_t)e] = 0;
        ++removed;
      }
      if (removed == 0) continue;
      int64_t nnz = apply_edit(ctx, layers[i], keep, {});
      events_.push_back({(epoch_abs + 1) * ctx.steps_per_epoch, layers[i].name, removed, 0, nnz, layers[i].p->density()});
    }
    if (last) w0_.clear();
  }

 private:
  int64_t epochs_, start_ = 0;
  double phi_, d_i_, d_f_;
  std::vector<std::pair<std::vector<int64_t>, std::vector<float>>> w0_;
};

// K-starts picks the mask over the first warm_epochs (at sparsity.density); dissipating
// gradients then prunes inside it down to final_density over the next warm_epochs,
// measuring each weight's change from its value when the mask was chosen.
class KStartsDissipating : public Sparsifier {
 public:
  // `density`: sparsity.density, the density K-starts keeps and dissipating starts from.
  KStartsDissipating(const KStartsDissipatingOptions& o, double density)
      : k_(KStartsOptions{o.k, o.warm_epochs, o.fitness}), warm_(o.warm_epochs) {
    d_ = std::make_unique<Dissipating>(DissipatingOptions{o.warm_epochs, o.phi, density, o.final_density});
    d_->start_at_epoch(warm_);
  }
  std::string name() const override { return "kstarts_dissipating"; }
  double initial_density(double configured) const override { return k_.initial_density(configured); }
  std::vector<int64_t> init_positions(size_t i, int64_t rows, int64_t cols, int64_t nnz) override {
    k_.rng = rng;
    auto p = k_.init_positions(i, rows, cols, nnz);
    rng = k_.rng;
    return p;
  }
  void before_forward(int64_t step) override { sync(); d_->before_forward(step); }
  void after_step(int64_t step) override { sync(); k_.after_step(step); }
  void end_of_epoch(int64_t epoch) override {
    sync();
    k_.end_of_epoch(epoch);
    d_->end_of_epoch(epoch);
    for (auto* m : {static_cast<Sparsifier*>(&k_), static_cast<Sparsifier*>(d_.get())})
      for (auto& e : m->take_events()) events_.push_back(e);
  }

 private:
  void sync() { k_.ctx = ctx; d_->ctx = ctx; }
  KStarts k_;
  int64_t warm_;
  std::unique_ptr<Dissipating> d_;
};

}  // namespace

MethodEntry kstarts_entry() {
  return {"kstarts", "K-starts: train k random masks on their union, keep the fittest (Haroon 2022)",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<KStarts>(kstarts_options().read(s, kSparsityPrefix)), seed);
          },
          kstarts_options().info()};
}

MethodEntry dissipating_entry() {
  return {"dissipating", "dissipating gradients: remove the weights that change least, down to final_density",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            return seeded(std::make_unique<Dissipating>(dissipating_options().read(s, kSparsityPrefix)), seed);
          },
          dissipating_options().info()};
}

MethodEntry kstarts_dissipating_entry() {
  return {"kstarts_dissipating", "K-starts picks a mask at sparsity.density, dissipating gradients prunes inside it",
          [](const nlohmann::json& s, nn::Module&, uint64_t seed) {
            auto o = kstarts_dissipating_options().read(s, kSparsityPrefix);
            return seeded(std::make_unique<KStartsDissipating>(o, read_sparsify_options(s).density), seed);
          },
          kstarts_dissipating_options().info()};
}

}  // namespace sprout::sparsity
