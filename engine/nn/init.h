// Parameter initialisation matching PyTorch's defaults: Linear and Conv2d weights
// kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the
// bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
#pragma once
#include "engine/core/rng.h"
#include "engine/core/tensor.h"

namespace sprout::nn {

// The global RNG used for initialisation (seeded by the training run).
Rng& init_rng();
void uniform_(Tensor& t, double lo, double hi, Rng& rng);
void normal_(Tensor& t, double mean, double std, Rng& rng);

}  // namespace sprout::nn
