// Constructors of every sparse-training method (one .cpp each) and the schedule
// formulas they share, exposed for tests.
#pragma once
#include <nlohmann/json.hpp>

#include "engine/sparsity/sparsifier.h"

namespace sprout::sparsity {

// RigL's drop fraction: alpha / 2 (1 + cos(pi t / t_end)), 0 from t_end on.
double cosine_fraction(double alpha, int64_t t, int64_t t_end);
// Zhu & Gupta's cubic schedule: s_i + (s_f - s_i)(1 - (1 - progress)^3), progress in [0, 1].
double cubic_sparsity(double s_i, double s_f, double progress);
// GraNet's death rate: r0 cosine-annealed to r_final over [0, total].
double annealed_rate(double r0, double r_final, int64_t t, int64_t total);

// Each takes the config's "sparsity" section.
SparsifierPtr make_static(const nlohmann::json& s);
SparsifierPtr make_set(const nlohmann::json& s, bool magnitude_variant);
SparsifierPtr make_rigl(const nlohmann::json& s);
SparsifierPtr make_granet(const nlohmann::json& s);
SparsifierPtr make_gmp(const nlohmann::json& s);
SparsifierPtr make_snip(const nlohmann::json& s);
SparsifierPtr make_kstarts(const nlohmann::json& s);
SparsifierPtr make_dissipating(const nlohmann::json& s);
SparsifierPtr make_kstarts_dissipating(const nlohmann::json& s);
// These two change the model when built (gates; DyReLU, shared weights), so they take
// it. Polarize keeps the weights dense (structured pruning) and seeds itself.
SparsifierPtr make_polarize(const nlohmann::json& s, nn::Module& model, uint64_t seed);
SparsifierPtr make_east(const nlohmann::json& s, nn::Module& model);

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
