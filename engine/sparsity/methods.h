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

}  // namespace sprout::sparsity
