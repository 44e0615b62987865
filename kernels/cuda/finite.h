// Finite-value checks on the GPU (float32), the twin of kernels/cpu/finite.h. The flag
// stays on the device: the host reads it only where it synchronises anyway.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

// *flag = min(*flag, mark) (one device word, ~0 while clear) when any of x[0, n) is NaN
// or infinite. Queued on `s`; the host does not wait.
void mark_non_finite(const float* x, int64_t n, unsigned long long mark, unsigned long long* flag,
                     cudaStream_t s);

}  // namespace sprout::kernels::cuda
