// Order-preserving unsigned keys for float scores on the GPU (the twin of
// kernels/cpu/order_key.h): a > b exactly when order_key(a) > order_key(b).
#pragma once
#include <cstdint>

namespace sprout::kernels::cuda {

__device__ inline uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

}  // namespace sprout::kernels::cuda
