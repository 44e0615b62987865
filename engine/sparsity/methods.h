// The registry entry of every sparse-training method (one .cpp each, with its
// options) and the schedule formulas and options they share, exposed for tests.
#pragma once
#include <string>

#include "engine/sparsity/registry.h"

namespace sprout::sparsity {

// RigL's drop fraction: alpha / 2 (1 + cos(pi t / t_end)), 0 from t_end on.
double cosine_fraction(double alpha, int64_t t, int64_t t_end);
// Zhu & Gupta's cubic schedule: s_i + (s_f - s_i)(1 - (1 - progress)^3), progress in [0, 1].
double cubic_sparsity(double s_i, double s_f, double progress);
// GraNet's death rate: r0 cosine-annealed to r_final over [0, total].
double annealed_rate(double r0, double r_final, int64_t t, int64_t total);

// One registry entry per method (name, help, factory, declared options), each from
// the method's own file; registry.cpp lists them.
MethodEntry dense_entry();
MethodEntry static_entry();
MethodEntry set_entry();
MethodEntry set_magnitude_entry();
MethodEntry rigl_entry();
MethodEntry granet_entry();
MethodEntry gmp_entry();
MethodEntry snip_entry();
MethodEntry kstarts_entry();
MethodEntry dissipating_entry();
MethodEntry kstarts_dissipating_entry();
// These two change the model when built (gates; DyReLU, shared weights). Polarize
// keeps the weights dense (structured pruning).
MethodEntry polarize_entry();
MethodEntry east_entry();

// RigL's options, which set_magnitude (RigL's SET baseline) shares: every update_every
// steps until end_fraction of training, each layer drops the cosine-annealed fraction
// drop_fraction of its entries and grows as many.
struct RigLOptions {
  int64_t update_every;
  double drop_fraction, end_fraction;
  std::string grow_init;
};
const Options<RigLOptions>& rigl_options();

// sparsity.grow_init, declared by every method that grows entries. Only "zero" is
// implemented: a grown entry starts at w = 0 with optimizer state 0.
template <class S>
Options<S>& declare_grow_init(Options<S>& o, std::string S::*field) {
  return o.text("grow_init", field, "zero", {"zero"}, "value a grown entry starts from (w = 0, optimizer state 0)");
}

// EAST's schedules. Cyclic target density at position p in [0, 1] of a cycle:
// d_min + (d_max - d_min)(1 - cos 2 pi p) / 2.
double cyclic_density(double d_min, double d_max, double p);
// Position in the cycles at `step`: `region` steps split into `cycles` cycles whose
// lengths grow by `multiplier`; false once past the region (p untouched).
bool cycle_position(int64_t step, int64_t region, int64_t cycles, double multiplier, double* p);
// DyReLU blend for 0-based `epoch` of `epochs`: 1 before e_s = E/4, 1 - (e - e_s) /
// (e_e - e_s) between, 0 (plain ReLU) from e_e = E/2 - 1 on (integer division).
double dyrelu_beta(int64_t epoch, int64_t epochs);
// Density of the stored weights that gives density d over the virtual network:
// d (n_own + n_shared_virtual) / n_own.
double shared_density(double d, int64_t n_own, int64_t n_shared_virtual);

}  // namespace sprout::sparsity
