// Counter-based random keys shared by the CPU and CUDA selection kernels, so both
// devices pick the same entries from the same seed. hash_key(seed, i) is a 64-bit
// mix of (seed, i); tie_noise(seed, i) in [0, 2^-40) is added to magnitude scores so
// that equal scores (zeros, most often) are ordered at random rather than by index. It
// is a 24-bit integer times a power of two, an exact float, so s + noise rounds the
// same whether or not a compiler fuses it, on either device.
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace sprout::kernels {

SPROUT_HD inline uint64_t hash_key(uint64_t seed, int64_t i) {
  uint64_t z = seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  z += 0x9e3779b97f4a7c15ull;  // second round: consecutive i decorrelate fully
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

SPROUT_HD inline float tie_noise(uint64_t seed, int64_t i) {
  return (float)(hash_key(seed, i) >> 40) * 5.421010862427522e-20f;  // 2^-64
}

}  // namespace sprout::kernels
