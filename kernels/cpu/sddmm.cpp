// CPU SDDMM: the stored entries are split into equal contiguous ranges (so one very
// long row cannot hold a thread back), each entry a dot product of two contiguous
// rows; two entries of a row share the loads of their common X row.
#include "kernels/cpu/sddmm.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/spmm.h"

namespace sprout::kernels::cpu {

namespace {

constexpr int64_t kSerialWork = 1 << 15;

// Four vector accumulators per dot hide the FMA latency.
template <class T> constexpr int kLanes = 128 / (int)sizeof(T);

template <class T>
SPROUT_ALWAYS_INLINE T dot(const T* x, const T* y, int64_t n) {
  constexpr int U = kLanes<T>;
  T acc[U];
  for (int t = 0; t < U; ++t) acc[t] = T(0);
  int64_t k = 0;
  for (; k + U <= n; k += U) {
#pragma omp simd
    for (int t = 0; t < U; ++t) acc[t] += x[k + t] * y[k + t];
  }
  T s = T(0);
  for (; k < n; ++k) s += x[k] * y[k];
  for (int t = 0; t < U; ++t) s += acc[t];
  return s;
}

// dot(x, y0) and dot(x, y1) in one pass over x.
template <class T>
SPROUT_ALWAYS_INLINE void dot2(const T* x, const T* y0, const T* y1, int64_t n, T* s0, T* s1) {
  constexpr int U = kLanes<T> / 2;
  T a0[U], a1[U];
  for (int t = 0; t < U; ++t) a0[t] = a1[t] = T(0);
  int64_t k = 0;
  for (; k + U <= n; k += U) {
#pragma omp simd
    for (int t = 0; t < U; ++t) {
      a0[t] += x[k + t] * y0[k + t];
      a1[t] += x[k + t] * y1[k + t];
    }
  }
  T r0 = T(0), r1 = T(0);
  for (; k < n; ++k) { r0 += x[k] * y0[k]; r1 += x[k] * y1[k]; }
  for (int t = 0; t < U; ++t) { r0 += a0[t]; r1 += a1[t]; }
  *s0 = r0;
  *s1 = r1;
}

template <class T>
SPROUT_ALWAYS_INLINE void put(T* out, T v, bool accumulate) {
  if (accumulate) *out += v;
  else *out = v;
}

// Entries [e0, e1) of a CSR structure.
template <class T>
SPROUT_ALWAYS_INLINE void csr_range(const SddmmArgs<T>& a, int64_t e0, int64_t e1) {
  const int32_t* row_ptr = a.a.row_ptr;
  const int32_t* col = a.a.col_idx;
  const int64_t nrows = a.a.rows;
  int64_t r = std::upper_bound(row_ptr, row_ptr + nrows + 1, (int32_t)e0) - row_ptr - 1;
  bool first = true;
  for (int64_t bi = 0; bi < a.batch; ++bi) {
    const T* xb = a.x + bi * a.stride_x;
    const T* yb = a.y + bi * a.stride_y;
    const bool acc = a.accumulate || !first;
    int64_t rr = r;
    int64_t e = e0;
    while (e < e1) {
      while (row_ptr[rr + 1] <= e) ++rr;
      const int64_t row_end = std::min<int64_t>(e1, row_ptr[rr + 1]);
      const T* xr = xb + rr * a.ldx;
      for (; e + 1 < row_end; e += 2) {
        T s0, s1;
        dot2(xr, yb + (int64_t)col[e] * a.ldy, yb + (int64_t)col[e + 1] * a.ldy, a.n, &s0, &s1);
        put(a.out + e, s0, acc);
        put(a.out + e + 1, s1, acc);
      }
      if (e < row_end) { put(a.out + e, dot(xr, yb + (int64_t)col[e] * a.ldy, a.n), acc); ++e; }
    }
    first = false;
  }
}

// Blocks [e0, e1) of a BSR structure; overhanging rows/columns get 0.
template <class T>
SPROUT_ALWAYS_INLINE void bsr_range(const SddmmArgs<T>& a, int64_t e0, int64_t e1) {
  const int32_t* row_ptr = a.a.row_ptr;
  const int32_t* col = a.a.col_idx;
  const int bs = a.a.block;
  const int64_t bb = (int64_t)bs * bs, nbrows = a.a.block_rows();
  int64_t r = std::upper_bound(row_ptr, row_ptr + nbrows + 1, (int32_t)e0) - row_ptr - 1;
  for (int64_t e = e0; e < e1; ++e) {
    while (row_ptr[r + 1] <= e) ++r;
    const int64_t i_n = std::min<int64_t>(bs, a.a.rows - r * bs);
    const int64_t k0 = (int64_t)col[e] * bs;
    const int64_t j_n = std::min<int64_t>(bs, a.a.cols - k0);
    T* o = a.out + e * bb;
    for (int i = 0; i < bs; ++i)
      for (int j = 0; j < bs; ++j) {
        T s = T(0);
        if (i < i_n && j < j_n)
          for (int64_t bi = 0; bi < a.batch; ++bi)
            s += dot(a.x + bi * a.stride_x + (r * bs + i) * a.ldx,
                     a.y + bi * a.stride_y + (k0 + j) * a.ldy, a.n);
        put(o + i * bs + j, s, a.accumulate);
      }
  }
}

template <class T> SPROUT_TARGET_AVX2 void csr_range_avx2(const SddmmArgs<T>& a, int64_t e0, int64_t e1) { csr_range(a, e0, e1); }
template <class T> void csr_range_base(const SddmmArgs<T>& a, int64_t e0, int64_t e1) { csr_range(a, e0, e1); }
template <class T> SPROUT_TARGET_AVX2 void bsr_range_avx2(const SddmmArgs<T>& a, int64_t e0, int64_t e1) { bsr_range(a, e0, e1); }
template <class T> void bsr_range_base(const SddmmArgs<T>& a, int64_t e0, int64_t e1) { bsr_range(a, e0, e1); }

template <class F>
void for_each_range(int64_t units, int64_t work, F&& range) {
  if (units == 0) return;
  const int threads = omp_get_max_threads();
  const int64_t parts = (work < kSerialWork || threads == 1) ? 1 : std::min<int64_t>(units, threads * 4);
#pragma omp parallel for schedule(dynamic, 1) if (parts > 1)
  for (int64_t p = 0; p < parts; ++p) range(units * p / parts, units * (p + 1) / parts);
}

}  // namespace

template <class T>
void sddmm_csr(const SddmmArgs<T>& a) {
  if (a.a.block != 1) throw std::invalid_argument("sddmm_csr: block size must be 1");
  const bool avx2 = cpu_has_avx2();
  for_each_range(a.a.nnz_blocks, a.a.nnz_blocks * a.n * a.batch, [&](int64_t e0, int64_t e1) {
    if (avx2) csr_range_avx2(a, e0, e1);
    else csr_range_base(a, e0, e1);
  });
}

template <class T>
void sddmm_bsr(const SddmmArgs<T>& a) {
  if (a.a.block < 2) throw std::invalid_argument("sddmm_bsr: block size must be at least 2");
  const bool avx2 = cpu_has_avx2();
  const int64_t bb = (int64_t)a.a.block * a.a.block;
  for_each_range(a.a.nnz_blocks, a.a.nnz_blocks * bb * a.n * a.batch, [&](int64_t e0, int64_t e1) {
    if (avx2) bsr_range_avx2(a, e0, e1);
    else bsr_range_base(a, e0, e1);
  });
}

template void sddmm_csr<float>(const SddmmArgs<float>&);
template void sddmm_csr<double>(const SddmmArgs<double>&);
template void sddmm_bsr<float>(const SddmmArgs<float>&);
template void sddmm_bsr<double>(const SddmmArgs<double>&);

}  // namespace sprout::kernels::cpu
