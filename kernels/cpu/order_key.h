// Shared by the CPU top-k selections: order-preserving unsigned keys for float scores
// (a > b exactly when order_key(a) > order_key(b), so ranks are exact integer
// compares), and the walk over a block-row structure's open positions.
#pragma once
#include <cstdint>
#include <cstring>

namespace sprout::kernels::cpu {

inline uint32_t order_key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline uint32_t order_key(uint32_t u) { return u; }
inline uint64_t order_key(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

// f(R * gc + C) for each open grid position of block rows [R0, R1), in ascending order:
// not stored, or stored and dropped by keep (null: keep every entry).
template <class F>
void for_open_positions(int64_t R0, int64_t R1, int64_t gc, const int32_t* row_ptr, const int32_t* col_idx,
                        const uint8_t* keep, F f) {
  for (int64_t R = R0; R < R1; ++R) {
    int64_t e = row_ptr[R];
    for (int64_t C = 0; C < gc; ++C) {
      if (e < row_ptr[R + 1] && col_idx[e] == C) {
        const bool dropped = keep && !keep[e];
        ++e;
        if (!dropped) continue;
      }
      f(R * gc + C);
    }
  }
}

}  // namespace sprout::kernels::cpu
