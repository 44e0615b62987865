// Learning-rate schedules, evaluated per step: constant, multistep (epoch
// milestones), cosine (to 0 over all steps), each with an optional linear warm-up.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sprout::optim {

struct Schedule {
  std::string name = "constant";  // constant | multistep | cosine
  double base_lr = 0.1;
  int64_t warmup_steps = 0;
  std::vector<int64_t> milestones_epochs;  // multistep
  double gamma = 0.1;                      // multistep factor per milestone
  int64_t total_steps = 1;
  int64_t steps_per_epoch = 1;
  double lr_at(int64_t step) const;
};

}  // namespace sprout::optim
