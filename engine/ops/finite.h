// Non-finite checks without a host sync: a flag word on a device (-1 while clear) that
// mark_non_finite lowers to a mark (a step, a parameter's index) when a tensor holds a
// NaN or an infinity. The CPU marks at once; on the GPU a kernel does, and the host
// reads the flag only where it waits anyway (a logged step, evaluation, a checkpoint).
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// A clear flag (int64 [1], -1) on `dev`.
Tensor make_finite_flag(Device dev);
// Lowers `flag` (on x's device) to `mark` (>= 0) when floating-point `x` holds a NaN or
// an infinity; integer tensors are always finite. The lowest mark wins.
void mark_non_finite(const Tensor& x, int64_t mark, const Tensor& flag);
// The flag's value: -1 while clear, else the lowest mark. A device sync on the GPU.
int64_t read_flag(const Tensor& flag);

}  // namespace sprout::ops
