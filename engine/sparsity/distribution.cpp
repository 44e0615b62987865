// Density distributions. ER/ERK solve eps with the dense-layer loop: a layer whose
// scaled density would exceed 1 becomes dense and eps is solved again. Then densities
// become integer nnz by largest-remainder rounding so the total is exact.
#include "engine/sparsity/distribution.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.h"

namespace sprout::sparsity {

namespace {

// ER uses (n_in + n_out) / (n_in n_out) on the 2-D view; ERK sums every dimension.
double raw_score(const Shape& s, bool kernel) {
  double prod = (double)shape_numel(s);
  if (kernel || s.size() == 2) {
    double sum = 0;
    for (int64_t d : s) sum += (double)d;
    return sum / prod;
  }
  double out = (double)s[0], in = prod / out;
  return (out + in) / (out * in);
}

// The dense-layer loop: solve eps for the target density; while the highest-scoring
// sparse layer would exceed density 1, make it dense and solve again.
void solve_er_densities(const std::vector<LayerSpec>& layers, double density, bool kernel,
                        std::vector<bool>& dense, std::vector<double>& d) {
  size_t n = layers.size();
  while (true) {
    double rhs = 0, divisor = 0;
    for (size_t i = 0; i < n; ++i) {
      double size = (double)layers[i].numel();
      if (dense[i]) rhs -= size * (1.0 - density);
      else { rhs += size * density; divisor += raw_score(layers[i].shape, kernel) * size; }
    }
    SPROUT_CHECK(divisor > 0, "sparsity.density ", density,
                 " cannot be met: every layer would have to be dense");
    double eps = rhs / divisor;
    size_t worst = n;
    double worst_score = -1;
    for (size_t i = 0; i < n; ++i) {
      if (dense[i]) continue;
      double sc = raw_score(layers[i].shape, kernel);
      if (sc > worst_score) { worst_score = sc; worst = i; }
    }
    if (worst < n && eps * worst_score > 1.0) { dense[worst] = true; continue; }
    for (size_t i = 0; i < n; ++i)
      d[i] = dense[i] ? 1.0 : eps * raw_score(layers[i].shape, kernel);
    break;
  }
}

// Integer nnz: floor, then hand the remainder to the largest fractional parts, so
// sum(nnz) == round(sum(d_i N_i)) exactly; every non-empty layer keeps at least one.
std::vector<LayerBudget> round_to_nnz(const std::vector<LayerSpec>& layers, const std::vector<double>& d) {
  size_t n = layers.size();
  std::vector<LayerBudget> out(n);
  double want = 0;
  std::vector<double> exact(n);
  for (size_t i = 0; i < n; ++i) { exact[i] = d[i] * (double)layers[i].numel(); want += exact[i]; }
  int64_t target = (int64_t)std::llround(want), have = 0;
  for (size_t i = 0; i < n; ++i) { out[i].nnz = (int64_t)std::floor(exact[i] + 1e-9); have += out[i].nnz; }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return exact[a] - std::floor(exact[a]) > exact[b] - std::floor(exact[b]);
  });
  for (size_t k = 0; have < target && k < n; ++k) {
    size_t i = order[k];
    if (out[i].nnz < layers[i].numel()) { ++out[i].nnz; ++have; }
  }
  for (size_t i = 0; i < n; ++i) {
    out[i].nnz = std::max<int64_t>(out[i].nnz, std::min<int64_t>(1, layers[i].numel()));
    out[i].density = layers[i].numel() ? (double)out[i].nnz / (double)layers[i].numel() : 1.0;
  }
  return out;
}

}  // namespace

std::vector<LayerBudget> layer_budgets(const std::vector<LayerSpec>& layers, double density,
                                       const std::string& dist, double er_epsilon,
                                       double min_density) {
  size_t n = layers.size();
  std::vector<bool> dense(n, false);
  for (size_t i = 0; i < n; ++i) dense[i] = layers[i].force_dense;
  std::vector<double> d(n, 1.0);
  if (dist == "uniform") {
    SPROUT_CHECK(density > 0 && density <= 1, "sparsity.density ", density, " not in (0, 1]");
    for (size_t i = 0; i < n; ++i) d[i] = dense[i] ? 1.0 : density;
  } else if (dist == "er" || dist == "erk") {
    bool kernel = dist == "erk";
    if (dist == "er" && density <= 0) {
      // SET's parameterisation: p = eps (n_in + n_out) / (n_in n_out), capped at 1.
      for (size_t i = 0; i < n; ++i)
        d[i] = dense[i] ? 1.0 : std::min(1.0, er_epsilon * raw_score(layers[i].shape, false));
    } else {
      SPROUT_CHECK(density > 0 && density <= 1, "sparsity.density ", density, " not in (0, 1]");
      solve_er_densities(layers, density, kernel, dense, d);
    }
  } else {
    SPROUT_FAIL("sparsity.distribution: unknown '", dist, "' (expected uniform, er or erk)");
  }
  for (size_t i = 0; i < n; ++i)
    if (!dense[i] && min_density > 0) d[i] = std::min(1.0, std::max(d[i], min_density));
  return round_to_nnz(layers, d);
}

}  // namespace sprout::sparsity
