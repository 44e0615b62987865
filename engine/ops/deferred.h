// Checks a GPU makes without stopping the host: a kernel writes a verdict word on the
// device (-1: fine, else a row or index to report), the op registers it here, and the
// host reads every pending word where it synchronises anyway (the training loop's logged
// steps and checkpoints). CPU ops check at once and register nothing.
#pragma once
#include <string>

#include "engine/core/tensor.h"

namespace sprout::ops {

// A fresh verdict word on `dev` set to -1 (queued on the compute stream).
Tensor make_verdict(Device dev);
// Registers `verdict` (I64 [1] on the device); `what` names the failure, followed by the
// verdict's value in the error.
void defer_check(const Tensor& verdict, std::string what);
// Reads the pending verdicts and throws on the first failed one. A verdict is read once.
void check_deferred();

}  // namespace sprout::ops
