// Finite-value checks on the CPU. Large tensors split over OpenMP threads.
#include "kernels/cpu/finite.h"

#include <cmath>

namespace sprout::kernels::cpu {

constexpr int64_t kParallelMin = 1 << 15;

template <class T>
void mark_non_finite(const T* x, int64_t n, uint64_t mark, uint64_t* flag) {
  bool bad = false;
#pragma omp parallel for reduction(|| : bad) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) bad = bad || !std::isfinite(x[i]);
  if (bad && mark < *flag) *flag = mark;
}

template void mark_non_finite<float>(const float*, int64_t, uint64_t, uint64_t*);
template void mark_non_finite<double>(const double*, int64_t, uint64_t, uint64_t*);

}  // namespace sprout::kernels::cpu
