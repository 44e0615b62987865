// A diverged run must never reach a file: before a checkpoint or the model is written,
// every parameter and buffer is checked for NaN and infinity with one flag read (a
// parameter's index is its mark, so the error names the first bad one).
#pragma once
#include <string>

#include "engine/nn/module.h"

namespace sprout::train {

// Throws "<what>: parameter 'fc1.weight' holds NaN or infinite values" unless every
// parameter and buffer of `model` is finite. `what` says what was about to happen.
void check_finite_model(nn::Module& model, const std::string& what);

}  // namespace sprout::train
