// LR at a step. Warm-up ramps linearly from base/warmup to base over warmup_steps.
#include "engine/optim/schedule.h"

#include <cmath>

#include "engine/core/error.h"

namespace sprout::optim {

double Schedule::lr_at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps)
    return base_lr * (double)(step + 1) / (double)warmup_steps;
  if (name == "constant") return base_lr;
  if (name == "cosine")
    return 0.5 * base_lr * (1.0 + std::cos(M_PI * (double)step / (double)(total_steps > 0 ? total_steps : 1)));
  if (name == "multistep") {
    double lr = base_lr;
    int64_t epoch = step / (steps_per_epoch > 0 ? steps_per_epoch : 1);
    for (int64_t m : milestones_epochs) if (epoch >= m) lr *= gamma;
    return lr;
  }
  SPROUT_FAIL("unknown schedule '", name, "' (expected constant, multistep or cosine)");
}

}  // namespace sprout::optim
