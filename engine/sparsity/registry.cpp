// The method list (one line per method; its options and code live in its own file),
// the options every method shares, and the "sparsity" section's defaults built from
// all of them.
#include "engine/sparsity/registry.h"

#include <map>

#include "engine/core/error.h"
#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

const Registry<MethodFactory>& methods() {
  static const Registry<MethodFactory> r = [] {
    Registry<MethodFactory> r("sparsity.method");
    r.add(dense_entry());
    r.add(static_entry());
    r.add(set_entry());
    r.add(set_magnitude_entry());
    r.add(rigl_entry());
    r.add(granet_entry());
    r.add(gmp_entry());
    r.add(snip_entry());
    r.add(kstarts_entry());
    r.add(dissipating_entry());
    r.add(kstarts_dissipating_entry());
    r.add(polarize_entry());
    r.add(east_entry());
    return r;
  }();
  return r;
}

namespace {

const Options<SparsifyOptions>& sparsify_options() {
  using S = SparsifyOptions;
  static const Options<S> o = Options<S>()
      .text("method", &S::method, "dense", {}, "the sparse-training method (one of the registered names)")
      .number("density", &S::density, 1.0, Range::open_closed(0, 1),
              "fraction of weights kept (polarize: of hidden units kept)")
      .text("distribution", &S::distribution, "erk", {"uniform", "er", "erk"},
            "how the density is spread over layers: uniform, ER (SET) or ERK (RigL)")
      .text("format", &S::format, "csr", {"csr", "bsr"}, "sparse layer storage: CSR, or BSR in block x block tiles")
      .integer("block", &S::block, 4, Range::closed(1, 32), "BSR tile size (format bsr; 1 stores CSR)")
      .flag("first_layer_dense", &S::first_layer_dense, false, "keep the first weight layer dense")
      .flag("last_layer_dense", &S::last_layer_dense, false, "keep the last weight layer dense")
      .number("er_epsilon", &S::er_epsilon, 20.0, Range::above(0),
              "SET's epsilon: er densities eps (n_in + n_out) / (n_in n_out) when no density is given")
      .number("min_density", &S::min_density, 0.0, Range::closed(0, 1), "lowest density of a sparse layer")
      .text("kernel", &S::kernel, "", {}, "sparse kernel by name (empty: the default for device and format)")
      .text("keep_transposes", &S::keep_transposes, "auto", {"auto", "all", "none"},
            "which sparse layers keep their transposed structure (8 bytes per nonzero) between steps instead "
            "of rebuilding it: auto (linear layers), all, none")
      .number("dense_compute_above", &S::dense_compute_above, 0.3, Range::closed(0, 1),
              "a sparse layer denser than this computes through a dense copy of its weight, made per pass "
              "(the weight, its gradient and optimizer state stay sparse); 1: never")
      .flag("scale_init", &S::scale_init, false, "scale the kept initial weights by 1 / sqrt(density)")
      .text("grow", &S::grow, "exact", {"exact", "sampled"},
            "growth by gradient: exact (every open position, dW in row tiles) or sampled (grow_candidates x k "
            "random open positions scored by their exact gradient)")
      .integer("grow_budget_bytes", &S::grow_budget_bytes, 64 << 20, Range::at_least(1),
               "workspace of exact growth's tile of dW (at least one row is used)")
      .integer("grow_candidates", &S::grow_candidates, 10, Range::at_least(1),
               "sampled growth: candidates scored per grown position");
  return o;
}

}  // namespace

SparsifyOptions read_sparsify_options(const nlohmann::json& sparsity) {
  return sparsify_options().read(sparsity, kSparsityPrefix);
}

std::vector<OptionInfo> common_options() { return sparsify_options().info(); }

nlohmann::json sparsity_defaults() { return registry_defaults(methods(), "sparsity", common_options()); }

SparsifierPtr seeded(SparsifierPtr method, uint64_t seed) {
  method->rng.seed_with(seed ^ 0x5eed5eedull);
  return method;
}

}  // namespace sprout::sparsity
