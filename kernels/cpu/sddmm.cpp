// CPU SDDMM: the stored entries are split into equal contiguous ranges (so one very
// long row cannot hold a thread back), each entry a dot product of two contiguous
// rows; eight entries of a row (four in double) share the loads of their common X row
// and one reduction of their sums, and a pass over the entries sums several batch
// items before reducing.
#include "kernels/cpu/sddmm.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "kernels/cpu/spmm.h"

namespace sprout::kernels::cpu {

namespace {

constexpr int64_t kSerialWork = 1 << 15;

template <class T>
SPROUT_ALWAYS_INLINE T lane_sum(const vec_t<T>& v) {
  T s = T(0);
  for (int t = 0; t < kLanes<T>; ++t) s += v[t];
  return s;
}

template <class T>
SPROUT_ALWAYS_INLINE void put(T* out, T v, bool accumulate) {
  if (accumulate) *out += v;
  else *out = v;
}

// Columns per pass over a range's entries: long rows (an unfolded or packed image)
// are cut into blocks so the part of Y a block's entries read stays in cache while
// the range runs through it, instead of streaming every entry's whole row.
constexpr int64_t kColBlock = 1024;

// out[q] = sum over nb batch items i of dot(x_i, y[q]_i) (item i at x + i sx, y[q] + i sy)
// in one pass over x per item: Q + 1 loads per Q multiply-adds instead of 2 Q, 2 Q
// independent accumulators to hide the latency, and one horizontal sum per output, as
// short rows (a 7x7 plane) spend more on the reduction than on the products when each
// item is reduced alone.
template <class T, int Q>
SPROUT_ALWAYS_INLINE void dot_many_items(const T* x, int64_t sx, const T* const* y, int64_t sy, int64_t nb, int64_t n,
                                         T* out) {
  constexpr int L = kLanes<T>;
  vec_t<T> a0[Q], a1[Q];
  T tail[Q];
  for (int q = 0; q < Q; ++q) {
    a0[q] = a1[q] = vec_t<T>{};
    tail[q] = T(0);
  }
  for (int64_t i = 0; i < nb; ++i) {
    const T* xi = x + i * sx;
    int64_t k = 0;
    for (; k + 2 * L <= n; k += 2 * L) {
      vec_t<T> x0, x1;
      load_vec(x0, xi + k);
      load_vec(x1, xi + k + L);
#pragma GCC unroll 4
      for (int q = 0; q < Q; ++q) {
        vec_t<T> y0, y1;
        load_vec(y0, y[q] + i * sy + k);
        load_vec(y1, y[q] + i * sy + k + L);
        a0[q] += x0 * y0;
        a1[q] += x1 * y1;
      }
    }
    for (; k < n; ++k)
      for (int q = 0; q < Q; ++q) tail[q] += xi[k] * y[q][i * sy + k];
  }
  for (int q = 0; q < Q; ++q) {
    vec_t<T> a = a0[q] + a1[q];
    out[q] = lane_sum<T>(a) + tail[q];
  }
}

// Eight lane vectors reduced at once: out[q] = the sum of a[q]'s lanes. Three rounds of
// pairwise shuffles and adds leave the eight sums in one vector (float only: 8 lanes).
SPROUT_ALWAYS_INLINE void sum_lanes8(const vec_t<float>* a, vec_t<float>& out) {
  vec_t<float> t[4], u[2];
  for (int q = 0; q < 4; ++q) {
    const vec_t<float> p = a[2 * q], r = a[2 * q + 1];
    t[q] = __builtin_shufflevector(p, r, 0, 8, 2, 10, 4, 12, 6, 14) +
           __builtin_shufflevector(p, r, 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int q = 0; q < 2; ++q) {
    const vec_t<float> p = t[2 * q], r = t[2 * q + 1];
    u[q] = __builtin_shufflevector(p, r, 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(p, r, 2, 3, 10, 11, 6, 7, 14, 15);
  }
  out = __builtin_shufflevector(u[0], u[1], 0, 1, 2, 3, 8, 9, 10, 11) +
        __builtin_shufflevector(u[0], u[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

// Q <= 8 entries of one row at once (float): one accumulator each, the X vector loaded
// once for the Q products, and one reduction for all the sums: out[0..Q) (=|+=). Every
// entry's sum is formed the same way whatever Q is (sum_lanes8 keeps lanes apart), so
// how a range groups its entries, and so the thread count, never changes a bit.
template <int Q>
SPROUT_ALWAYS_INLINE void dotf_items(const float* x, int64_t sx, const float* const* y, int64_t sy, int64_t nb,
                                     int64_t n, float* out, bool accumulate) {
  constexpr int L = kLanes<float>;
  vec_t<float> a[8];
  float tail[8];
  for (int q = 0; q < 8; ++q) {
    a[q] = vec_t<float>{};
    tail[q] = 0.f;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xi = x + i * sx;
    const float* yi[Q];
    for (int q = 0; q < Q; ++q) yi[q] = y[q] + i * sy;
    int64_t k = 0;
    for (; k + L <= n; k += L) {
      vec_t<float> xv;
      load_vec(xv, xi + k);
#pragma GCC unroll 8
      for (int q = 0; q < Q; ++q) {
        vec_t<float> yv;
        load_vec(yv, yi[q] + k);
        a[q] += xv * yv;
      }
    }
    for (; k < n; ++k)
      for (int q = 0; q < Q; ++q) tail[q] += xi[k] * yi[q][k];
  }
  vec_t<float> s, t;
  sum_lanes8(a, s);
  load_vec(t, tail);
  s += t;
  if constexpr (Q == 8) {
    store_vec(out, s, accumulate);
  } else {
    for (int q = 0; q < Q; ++q) put(out + q, s[q], accumulate);
  }
}

// Batch items summed per pass over a range's entries: every pass streams the entries'
// indices and outputs once, so short rows take several items per pass, as many as keep
// a pass's operands within about kItemsBytes.
constexpr int64_t kItemsBytes = 1 << 20;
template <class T>
int64_t items_per_pass(const SddmmArgs<T>& a, int64_t n) {
  const int64_t per_item = (a.a.rows + a.a.cols) * n * (int64_t)sizeof(T);
  return std::max<int64_t>(1, std::min<int64_t>(a.batch, kItemsBytes / std::max<int64_t>(1, per_item)));
}

// Entries [e0, e1) of a CSR structure, columns [c0, c0 + n) of every batch item.
template <class T>
SPROUT_ALWAYS_INLINE void csr_range_cols(const SddmmArgs<T>& a, int64_t e0, int64_t e1, int64_t r, int64_t c0,
                                         int64_t n, bool first) {
  const int32_t* row_ptr = a.a.row_ptr;
  const int32_t* col = a.a.col_idx;
  const int64_t step = items_per_pass(a, n);
  for (int64_t b0 = 0; b0 < a.batch; b0 += step) {
    const int64_t nb = std::min(step, a.batch - b0);
    const T* xb = a.x + b0 * a.stride_x + c0;
    const T* yb = a.y + b0 * a.stride_y + c0;
    const bool acc = a.accumulate || !first || b0 > 0;
    int64_t rr = r;
    int64_t e = e0;
    while (e < e1) {
      while (row_ptr[rr + 1] <= e) ++rr;
      const int64_t row_end = std::min<int64_t>(e1, row_ptr[rr + 1]);
      const T* xr = xb + rr * a.ldx;
      const T* ys[8];
      T s[4];
      if constexpr (std::is_same<T, float>::value) {
        for (; e + 7 < row_end; e += 8) {
          for (int q = 0; q < 8; ++q) ys[q] = yb + (int64_t)col[e + q] * a.ldy;
          dotf_items<8>(xr, a.stride_x, ys, a.stride_y, nb, n, a.out + e, acc);
        }
        for (; e + 3 < row_end; e += 4) {
          for (int q = 0; q < 4; ++q) ys[q] = yb + (int64_t)col[e + q] * a.ldy;
          dotf_items<4>(xr, a.stride_x, ys, a.stride_y, nb, n, a.out + e, acc);
        }
        for (; e < row_end; ++e) {
          ys[0] = yb + (int64_t)col[e] * a.ldy;
          dotf_items<1>(xr, a.stride_x, ys, a.stride_y, nb, n, a.out + e, acc);
        }
        continue;
      }
      for (; e + 3 < row_end; e += 4) {
        for (int q = 0; q < 4; ++q) ys[q] = yb + (int64_t)col[e + q] * a.ldy;
        dot_many_items<T, 4>(xr, a.stride_x, ys, a.stride_y, nb, n, s);
        for (int q = 0; q < 4; ++q) put(a.out + e + q, s[q], acc);
      }
      for (; e < row_end; ++e) {
        ys[0] = yb + (int64_t)col[e] * a.ldy;
        dot_many_items<T, 1>(xr, a.stride_x, ys, a.stride_y, nb, n, s);
        put(a.out + e, s[0], acc);
      }
    }
  }
}

// Entries [e0, e1) of a CSR structure, block of columns by block.
template <class T>
SPROUT_ALWAYS_INLINE void csr_range(const SddmmArgs<T>& a, int64_t e0, int64_t e1) {
  const int32_t* row_ptr = a.a.row_ptr;
  const int64_t r = std::upper_bound(row_ptr, row_ptr + a.a.rows + 1, (int32_t)e0) - row_ptr - 1;
  for (int64_t c0 = 0; c0 < a.n; c0 += kColBlock)
    csr_range_cols(a, e0, e1, r, c0, std::min(kColBlock, a.n - c0), c0 == 0);
  if (a.n == 0 && !a.accumulate)
    for (int64_t e = e0; e < e1; ++e) a.out[e] = T(0);
}

// Blocks [e0, e1) of a BSR structure; overhanging rows/columns get 0. Row i of a
// block against the block's columns, four at a time.
template <class T>
SPROUT_ALWAYS_INLINE void bsr_range(const SddmmArgs<T>& a, int64_t e0, int64_t e1) {
  const int32_t* row_ptr = a.a.row_ptr;
  const int32_t* col = a.a.col_idx;
  const int bs = a.a.block;
  const int64_t bb = (int64_t)bs * bs, nbrows = a.a.block_rows();
  int64_t r = std::upper_bound(row_ptr, row_ptr + nbrows + 1, (int32_t)e0) - row_ptr - 1;
  const T* ys[4];
  T s[4];
  for (int64_t e = e0; e < e1; ++e) {
    while (row_ptr[r + 1] <= e) ++r;
    const int i_n = (int)std::min<int64_t>(bs, a.a.rows - r * bs);
    const int64_t k0 = (int64_t)col[e] * bs;
    const int j_n = (int)std::min<int64_t>(bs, a.a.cols - k0);
    T* o = a.out + e * bb;
    for (int i = 0; i < bs; ++i)
      for (int j = 0; j < bs; ++j)
        if (i >= i_n || j >= j_n || (a.batch == 0 && !a.accumulate)) put(o + i * bs + j, T(0), a.accumulate);
    for (int64_t bi = 0; bi < a.batch; ++bi) {
      const bool acc = a.accumulate || bi > 0;
      const T* yb = a.y + bi * a.stride_y + k0 * a.ldy;
      for (int i = 0; i < i_n; ++i) {
        const T* xr = a.x + bi * a.stride_x + (r * bs + i) * a.ldx;
        int j = 0;
        for (; j + 3 < j_n; j += 4) {
          for (int q = 0; q < 4; ++q) ys[q] = yb + (int64_t)(j + q) * a.ldy;
          dot_many_items<T, 4>(xr, 0, ys, 0, 1, a.n, s);
          for (int q = 0; q < 4; ++q) put(o + i * bs + j + q, s[q], acc);
        }
        for (; j < j_n; ++j) {
          ys[0] = yb + (int64_t)j * a.ldy;
          dot_many_items<T, 1>(xr, 0, ys, 0, 1, a.n, s);
          put(o + i * bs + j, s[0], acc);
        }
      }
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
  if (a.batch == 0) {  // an empty sum
    if (!a.accumulate) std::fill(a.out, a.out + a.a.nnz_blocks, T(0));
    return;
  }
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
