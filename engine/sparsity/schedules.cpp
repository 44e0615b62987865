// Schedule formulas shared by the methods.
#include <algorithm>
#include <cmath>

#include "engine/sparsity/methods.h"

namespace sprout::sparsity {

double cosine_fraction(double alpha, int64_t t, int64_t t_end) {
  if (t_end <= 0 || t >= t_end) return 0.0;
  return alpha / 2.0 * (1.0 + std::cos(M_PI * (double)t / (double)t_end));
}

double cubic_sparsity(double s_i, double s_f, double progress) {
  progress = std::clamp(progress, 0.0, 1.0);
  double r = 1.0 - progress;
  return s_i + (s_f - s_i) * (1.0 - r * r * r);
}

double annealed_rate(double r0, double r_final, int64_t t, int64_t total) {
  if (total <= 0) return r_final;
  double p = std::clamp((double)t / (double)total, 0.0, 1.0);
  return r_final + 0.5 * (r0 - r_final) * (1.0 + std::cos(M_PI * p));
}

}  // namespace sprout::sparsity
