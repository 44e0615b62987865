// Finite-value checks on the CPU, the reference for kernels/cuda/finite.h: the training
// loop's health flag (a NaN or infinite loss) and the check of every parameter before a
// checkpoint is written. A flag is one word, ~0 while clear; marks are small integers
// (a step, a parameter's index), so the lowest mark wins.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// *flag = min(*flag, mark) when any of x[0, n) is NaN or infinite.
template <class T>
void mark_non_finite(const T* x, int64_t n, uint64_t mark, uint64_t* flag);

}  // namespace sprout::kernels::cpu
