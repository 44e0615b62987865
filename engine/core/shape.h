// Tensor shapes: a small vector of int64 extents with numel and printing.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace sprout {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace sprout
