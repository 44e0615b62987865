// Carving one caller-allocated workspace into aligned pieces, in order, for the GPU
// kernels that need several temporary arrays (sorts, scans, selections).
#pragma once
#include <cstddef>

namespace sprout::kernels::cuda {

inline size_t align_up(size_t x) { return (x + 255) / 256 * 256; }

struct Carve {
  char* base;
  size_t used = 0;
  template <class T> T* take(size_t count) {
    T* p = reinterpret_cast<T*>(base + used);
    used += align_up(count * sizeof(T));
    return p;
  }
};

}  // namespace sprout::kernels::cuda
