// Carving one caller-allocated workspace into aligned pieces, in order, for the GPU
// kernels that need several temporary arrays (sorts, scans, selections), and the item
// count CUB accepts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace sprout::kernels::cuda {

inline size_t align_up(size_t x) { return (x + 255) / 256 * 256; }

// CUB counts items in int: every workspace query (made before its call) checks first.
inline int cub_items(int64_t n, const char* what) {
  if (n > 0x7fffffffLL)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " items, more than CUB's 2^31 - 1");
  return (int)n;
}

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
