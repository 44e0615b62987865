// CPU SpMM, CSR and BSR: OpenMP over (batch item, column tile, nnz-balanced row
// range); each output row tile is accumulated in registers over the row's stored
// entries, one contiguous axpy of a B row each, and written once.
#include "kernels/cpu/spmm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#if SPROUT_CPU_AVX2
#include <immintrin.h>
#endif

namespace sprout::kernels::cpu {

bool cpu_has_avx2() {
#if SPROUT_CPU_AVX2
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

void balanced_row_split(const int32_t* row_ptr, int64_t nrows, int parts, int64_t* bounds) {
  const int64_t base = row_ptr[0];
  const int64_t total = (int64_t)row_ptr[nrows] - base + nrows;
  bounds[0] = 0;
  for (int p = 1; p < parts; ++p) {
    const int64_t target = total * p / parts;
    int64_t lo = bounds[p - 1], hi = nrows;
    while (lo < hi) {  // first row whose cumulative work reaches the target
      int64_t mid = (lo + hi) / 2;
      if ((int64_t)row_ptr[mid] - base + mid < target) lo = mid + 1;
      else hi = mid;
    }
    bounds[p] = lo;
  }
  bounds[parts] = nrows;
}

namespace {

// Column tile of an output row held in registers: 8 vectors.
template <class T> constexpr int kTile = 8 * kLanes<T>;
constexpr int kMaxParts = 256;
constexpr int64_t kGroupTiles = 16;
// Below this many multiply-adds a call runs on one thread: forking costs more.
constexpr int64_t kSerialWork = 1 << 15;

// Where one output row tile goes: element t at c[t * stride] (stride 1: a row of C;
// ldc: a column of a transposed C), starting from `bias` (the row's bias or 0).
template <class T>
struct OutRow {
  T* c;
  int64_t stride;
  bool accumulate;
  T bias;
};

template <class T>
SPROUT_ALWAYS_INLINE void put_out(const OutRow<T>& o, int64_t t, T v) {
  T* p = o.c + t * o.stride;
  *p = o.accumulate ? *p + v : v;
}

// Output columns [0, NV vectors) of one row, and with Tail the `rest` (< one vector)
// columns after them: acc = bias + sum over the row's entries of v * b[brow][...];
// `entries` calls its argument once per stored entry with (value, B row index). The
// tail is one vector load ending at the last column (the lanes before the rest repeat
// columns already summed and are not written), so it rides in the same pass.
template <class T, int NV, bool Tail, class Entries>
SPROUT_ALWAYS_INLINE void axpy_tile(const Entries& entries, const T* b, int64_t ldb, const OutRow<T>& o, int rest) {
  constexpr int L = kLanes<T>;
  vec_t<T> acc[NV + 1];
  const int64_t tail = (int64_t)NV * L + rest - L;
#pragma GCC unroll 9
  for (int q = 0; q < NV + (Tail ? 1 : 0); ++q) acc[q] = vec_t<T>{} + o.bias;
  entries([&](T v, int64_t brow) {
    const T* br = b + brow * ldb;
    const vec_t<T> vv = vec_t<T>{} + v;
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) {
      vec_t<T> x;
      load_vec(x, br + q * L);
      acc[q] += vv * x;
    }
    if constexpr (Tail) {
      vec_t<T> x;
      load_vec(x, br + tail);
      acc[NV] += vv * x;
    }
  });
  if (o.stride == 1) {
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) store_vec(o.c + q * L, acc[q], o.accumulate);
  } else {
    // Transposed output: consecutive rows of a work item fill the same cache lines.
    for (int q = 0; q < NV; ++q)
      for (int t = 0; t < L; ++t) put_out(o, q * L + t, acc[q][t]);
  }
  if constexpr (Tail)
    for (int t = 0; t < rest; ++t) put_out(o, NV * L + t, acc[NV][L - rest + t]);
}

template <class T, bool Tail, class Entries>
SPROUT_ALWAYS_INLINE void axpy_vectors(int nv, const Entries& entries, const T* b, int64_t ldb, const OutRow<T>& o,
                                       int rest) {
  switch (nv) {
    case 8: if constexpr (!Tail) axpy_tile<T, 8, false>(entries, b, ldb, o, rest); break;
    case 7: axpy_tile<T, 7, Tail>(entries, b, ldb, o, rest); break;
    case 6: axpy_tile<T, 6, Tail>(entries, b, ldb, o, rest); break;
    case 5: axpy_tile<T, 5, Tail>(entries, b, ldb, o, rest); break;
    case 4: axpy_tile<T, 4, Tail>(entries, b, ldb, o, rest); break;
    case 3: axpy_tile<T, 3, Tail>(entries, b, ldb, o, rest); break;
    case 2: axpy_tile<T, 2, Tail>(entries, b, ldb, o, rest); break;
    case 1: axpy_tile<T, 1, Tail>(entries, b, ldb, o, rest); break;
    default: if constexpr (Tail) axpy_tile<T, 0, true>(entries, b, ldb, o, rest); break;
  }
}

// Columns [0, width <= kTile) of one output row, b pointing at the row's column
// `before`: whole vectors in registers, the rest as a vector tail when the row has a
// vector's worth of columns up to the tile's end (reads stay inside the row), else in a
// scalar second pass over the entries.
template <class T, class Entries>
SPROUT_ALWAYS_INLINE void row_tile(const Entries& entries, const T* b, int64_t ldb, const OutRow<T>& o, int width,
                                   int64_t before) {
  constexpr int L = kLanes<T>;
  const int nv = width / L, rest = width - nv * L;
  if (rest == 0) return axpy_vectors<T, false>(nv, entries, b, ldb, o, 0);
  if (before + width >= L) return axpy_vectors<T, true>(nv, entries, b, ldb, o, rest);
  axpy_vectors<T, false>(nv, entries, b, ldb, o, 0);
  T acc[L];
  for (int t = 0; t < L; ++t) acc[t] = o.bias;
  const T* b0 = b + nv * L;
  entries([&](T v, int64_t brow) {
    const T* br = b0 + brow * ldb;
    for (int t = 0; t < rest; ++t) acc[t] += v * br[t];
  });
  for (int t = 0; t < rest; ++t) put_out(o, nv * L + t, acc[t]);
}

// What one work item needs: the row structure to walk (A's CSR, or its CSC view for
// A^T with perm mapping to value slots), the operands and the block geometry.
template <class T>
struct Work {
  const int32_t* row_ptr;
  const int32_t* col_idx;
  const int32_t* perm;  // null: entry j's value is values[j]
  const T* values;
  const T* b;
  T* c;
  int64_t ldb, ldc, n;
  int64_t out_rows, b_rows;  // dense rows of op(A) and of B
  int bs;                    // 1 for CSR
  bool accumulate;
  bool transpose_c;          // C stored as [n, out_rows]
  const T* row_bias;         // null, or one value per output row
};

// The output of row r, columns from n0.
template <class T>
SPROUT_ALWAYS_INLINE OutRow<T> out_row(const Work<T>& w, int64_t r, int64_t n0) {
  if (w.transpose_c) return {w.c + n0 * w.ldc + r, w.ldc, w.accumulate, w.row_bias ? w.row_bias[r] : T(0)};
  return {w.c + r * w.ldc + n0, 1, w.accumulate, w.row_bias ? w.row_bias[r] : T(0)};
}

// Whether a work item prefetches B rows kPrefetchAhead entries ahead: when its column
// range is narrow (whole vectors, up to two register tiles), each selected B row is read
// once, in index order, which no hardware prefetcher follows. Rows closer than 512 bytes
// share the adjacent-line fetch, wider ranges stream along each row, and a B within
// half an L2 cache needs no help: none of those pay for the extra instructions.
constexpr int64_t kPrefetchAhead = 4;
template <class T>
SPROUT_ALWAYS_INLINE bool prefetch_rows(const Work<T>& w, int64_t n0, int64_t n1) {
  const int64_t width = n1 - n0, elem = (int64_t)sizeof(T);
  return width % kLanes<T> == 0 && width <= 2 * kTile<T> && w.ldb * elem >= 512 &&
         w.b_rows * width * elem > (256 << 10);
}

// Row r's entries in order, each handed to f(value, B row); values through perm when
// Perm (A^T's CSC view). With Ahead, the B row kPrefetchAhead entries on is requested from
// memory first (its first `width` elements).
template <bool Ahead, bool Perm, class T>
SPROUT_ALWAYS_INLINE auto csr_entries(const Work<T>& w, int64_t j0, int64_t j1, const T* b0, int width) {
  const int32_t* col = w.col_idx;
  const int32_t* perm = w.perm;
  const T* val = w.values;
  const int64_t ldb = w.ldb;
  return [=](auto&& f) {
    for (int64_t j = j0; j < j1; ++j) {
      if constexpr (Ahead) {
        const T* p = b0 + (int64_t)col[std::min(j + kPrefetchAhead, j1 - 1)] * ldb;
        for (int t = 0; t < width; t += 64 / (int)sizeof(T)) __builtin_prefetch(p + t);
      }
      if constexpr (Perm) f(val[perm[j]], (int64_t)col[j]);
      else f(val[j], (int64_t)col[j]);
    }
  };
}

template <bool Ahead, bool Perm, class T>
SPROUT_ALWAYS_INLINE void csr_rows(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t j0 = w.row_ptr[r], j1 = w.row_ptr[r + 1];
    for (int64_t c0 = n0; c0 < n1; c0 += kTile<T>) {
      const int width = (int)std::min<int64_t>(kTile<T>, n1 - c0);
      const T* b0 = w.b + c0;
      row_tile<T>(csr_entries<Ahead, Perm>(w, j0, j1, b0, width), b0, w.ldb, out_row(w, r, c0), width, c0);
    }
  }
}

template <class T>
SPROUT_ALWAYS_INLINE void csr_item(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
  const bool ahead = prefetch_rows(w, n0, n1);
  if (w.perm) {
    if (ahead) csr_rows<true, true>(w, r0, r1, n0, n1);
    else csr_rows<false, true>(w, r0, r1, n0, n1);
  } else {
    if (ahead) csr_rows<true, false>(w, r0, r1, n0, n1);
    else csr_rows<false, false>(w, r0, r1, n0, n1);
  }
}

// BSR rows: row i of block row R takes, from each stored block, its row i (A) or its
// column i (A^T through the CSC view, where A^T's block is the stored one transposed).
template <class T>
SPROUT_ALWAYS_INLINE void bsr_item(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
  const int bs = w.bs;
  const int64_t bb = (int64_t)bs * bs;
  const int32_t* col = w.col_idx;
  const int32_t* perm = w.perm;
  const T* val = w.values;
  const int64_t b_rows = w.b_rows;
  for (int64_t R = r0; R < r1; ++R) {
    const int64_t j0 = w.row_ptr[R], j1 = w.row_ptr[R + 1];
    const int ni = (int)std::min<int64_t>(bs, w.out_rows - R * bs);
    for (int64_t c0 = n0; c0 < n1; c0 += kTile<T>) {
      const int width = (int)std::min<int64_t>(kTile<T>, n1 - c0);
      for (int i = 0; i < ni; ++i) {
        auto entries = [&](auto&& f) {
          for (int64_t j = j0; j < j1; ++j) {
            const int64_t k0 = (int64_t)col[j] * bs;
            const int kn = (int)std::min<int64_t>(bs, b_rows - k0);
            if (perm) {
              const T* blk = val + (int64_t)perm[j] * bb + i;
              for (int jj = 0; jj < kn; ++jj) f(blk[jj * bs], k0 + jj);
            } else {
              const T* blk = val + j * bb + (int64_t)i * bs;
              for (int jj = 0; jj < kn; ++jj) f(blk[jj], k0 + jj);
            }
          }
        };
        row_tile<T>(entries, w.b + c0, w.ldb, out_row(w, R * bs + i, c0), width, c0);
      }
    }
  }
}

template <class T>
SPROUT_TARGET_AVX2 void csr_item_avx2(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
  csr_item(w, r0, r1, n0, n1);
}
template <class T>
void csr_item_base(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) { csr_item(w, r0, r1, n0, n1); }
template <class T>
SPROUT_TARGET_AVX2 void bsr_item_avx2(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
  bsr_item(w, r0, r1, n0, n1);
}
template <class T>
void bsr_item_base(const Work<T>& w, int64_t r0, int64_t r1, int64_t n0, int64_t n1) { bsr_item(w, r0, r1, n0, n1); }

template <class T>
Work<T> make_work(const SpmmArgs<T>& a) {
  const SparseOperand<T>& A = a.a;
  Work<T> w{};
  if (a.transpose_a) {
    if (!A.t_row_ptr || !A.t_col_idx || !A.t_perm)
      throw std::invalid_argument("spmm: a transposed product needs the CSC view (t_row_ptr, t_col_idx, t_perm)");
    w.row_ptr = A.t_row_ptr; w.col_idx = A.t_col_idx; w.perm = A.t_perm;
    w.out_rows = A.cols; w.b_rows = A.rows;
  } else {
    w.row_ptr = A.row_ptr; w.col_idx = A.col_idx; w.perm = nullptr;
    w.out_rows = A.rows; w.b_rows = A.cols;
  }
  w.values = A.values;
  w.ldb = a.ldb; w.ldc = a.ldc; w.n = a.n;
  w.bs = A.block;
  w.accumulate = a.accumulate;
  w.transpose_c = a.transpose_c;
  w.row_bias = a.row_bias;
  return w;
}

// Runs item(w, r0, r1, n0, n1) over every (batch item, column range, row range) in
// parallel. A column range spans up to kGroupTiles register tiles while that still
// leaves every thread several items: each B row is then read in long runs the
// prefetchers follow, which matters once B outgrows the caches (im2col columns).
template <class T, class F>
void run_items(const SpmmArgs<T>& a, const Work<T>& proto, int64_t nrows, int64_t work, F&& item) {
  if (nrows == 0 || a.n == 0 || a.batch == 0) return;
  const int threads = omp_get_max_threads();
  const bool serial = work < kSerialWork || threads == 1;
  const int parts = serial ? 1 : (int)std::min<int64_t>({nrows, (int64_t)threads * 4, (int64_t)kMaxParts});
  int64_t bounds[kMaxParts + 1];
  if (parts == 1) { bounds[0] = 0; bounds[1] = nrows; }
  else balanced_row_split(proto.row_ptr, nrows, parts, bounds);
  const int64_t tiles = (a.n + kTile<T> - 1) / kTile<T>;
  const int64_t groups_needed = (threads * 4 + parts * a.batch - 1) / (parts * a.batch);
  const int64_t group = std::max<int64_t>(1, std::min<int64_t>(kGroupTiles, tiles / groups_needed));
  const int64_t groups = (tiles + group - 1) / group;
  const int64_t items = a.batch * groups * parts;
#pragma omp parallel for schedule(dynamic, 1) if (!serial && items > 1)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t p = it % parts, rest = it / parts;
    const int64_t g = rest % groups, bi = rest / groups;
    Work<T> w = proto;
    w.b = a.b + bi * a.stride_b;
    w.c = a.c + bi * a.stride_c;
    item(w, bounds[p], bounds[p + 1], g * group * kTile<T>, std::min<int64_t>(a.n, (g + 1) * group * kTile<T>));
  }
}

}  // namespace

template <class T>
void spmm_csr(const SpmmArgs<T>& a) {
  if (a.a.block != 1) throw std::invalid_argument("spmm_csr: block size must be 1");
  const Work<T> w = make_work(a);
  const bool avx2 = cpu_has_avx2();
  const int64_t work = (a.a.nnz_blocks + w.out_rows) * a.n * a.batch;
  run_items(a, w, w.out_rows, work, [&](const Work<T>& x, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
    if (avx2) csr_item_avx2(x, r0, r1, n0, n1);
    else csr_item_base(x, r0, r1, n0, n1);
  });
}

template <class T>
void spmm_bsr(const SpmmArgs<T>& a) {
  if (a.a.block < 2) throw std::invalid_argument("spmm_bsr: block size must be at least 2");
  const Work<T> w = make_work(a);
  const bool avx2 = cpu_has_avx2();
  const int64_t out_brows = (w.out_rows + w.bs - 1) / w.bs;
  const int64_t work = (a.a.nnz_blocks * w.bs + out_brows) * w.bs * a.n * a.batch;
  run_items(a, w, out_brows, work, [&](const Work<T>& x, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
    if (avx2) bsr_item_avx2(x, r0, r1, n0, n1);
    else bsr_item_base(x, r0, r1, n0, n1);
  });
}
namespace {

// The scalar tile; bias (indexed by source row) may be null.
template <class T>
void transpose_tile(int64_t r0, int64_t r1, int64_t c0, int64_t c1, const T* src, int64_t lds,
                    T* dst, int64_t ldd, const T* bias) {
  for (int64_t r = r0; r < r1; ++r) {
    const T b = bias ? bias[r] : T(0);
    for (int64_t c = c0; c < c1; ++c) dst[c * ldd + r] = src[r * lds + c] + b;
  }
}

#if SPROUT_CPU_AVX2
// 8x8 float transpose in registers: unpack pairs, shuffle quads, swap 128-bit halves;
// bias8 (the 8 source rows' biases) is added to every output row.
SPROUT_TARGET_AVX2 void transpose8x8(const float* s, int64_t lds, float* d, int64_t ldd, __m256 bias8) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i + 0] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(d + i * ldd, _mm256_add_ps(_mm256_permute2f128_ps(u[i], u[i + 4], 0x20), bias8));
    _mm256_storeu_ps(d + (i + 4) * ldd, _mm256_add_ps(_mm256_permute2f128_ps(u[i], u[i + 4], 0x31), bias8));
  }
}

SPROUT_TARGET_AVX2 void transpose_tile_avx2(int64_t r0, int64_t r1, int64_t c0, int64_t c1, const float* src,
                                            int64_t lds, float* dst, int64_t ldd, const float* bias) {
  const int64_t r8 = r0 + (r1 - r0) / 8 * 8, c8 = c0 + (c1 - c0) / 8 * 8;
  for (int64_t r = r0; r < r8; r += 8) {
    const __m256 b8 = bias ? _mm256_loadu_ps(bias + r) : _mm256_setzero_ps();
    for (int64_t c = c0; c < c8; c += 8) transpose8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd, b8);
  }
  transpose_tile(r0, r8, c8, c1, src, lds, dst, ldd, bias);
  transpose_tile(r8, r1, c0, c1, src, lds, dst, ldd, bias);
}
#endif

}  // namespace

template <class T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd, const T* bias) {
  constexpr int64_t B = 64;
  const int64_t rb = (rows + B - 1) / B, cb = (cols + B - 1) / B;
#if SPROUT_CPU_AVX2
  const bool avx2 = std::is_same<T, float>::value && cpu_has_avx2();
#endif
#pragma omp parallel for collapse(2) schedule(static) if (rows * cols > (1 << 15))
  for (int64_t i = 0; i < rb; ++i)
    for (int64_t j = 0; j < cb; ++j) {
      const int64_t r1 = std::min(rows, (i + 1) * B), c1 = std::min(cols, (j + 1) * B);
#if SPROUT_CPU_AVX2
      if constexpr (std::is_same<T, float>::value)
        if (avx2) { transpose_tile_avx2(i * B, r1, j * B, c1, src, lds, dst, ldd, bias); continue; }
#endif
      transpose_tile(i * B, r1, j * B, c1, src, lds, dst, ldd, bias);
    }
}

template <class T>
void row_sums(int64_t rows, int64_t cols, const T* src, int64_t lds, T* out) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = src + r * lds;
    T s = T(0);
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < cols; ++c) s += p[c];
    out[r] = s;
  }
}

template void spmm_csr<float>(const SpmmArgs<float>&);
template void spmm_csr<double>(const SpmmArgs<double>&);
template void spmm_bsr<float>(const SpmmArgs<float>&);
template void spmm_bsr<double>(const SpmmArgs<double>&);
template void transpose<float>(int64_t, int64_t, const float*, int64_t, float*, int64_t, const float*);
template void transpose<double>(int64_t, int64_t, const double*, int64_t, double*, int64_t, const double*);
template void row_sums<float>(int64_t, int64_t, const float*, int64_t, float*);
template void row_sums<double>(int64_t, int64_t, const double*, int64_t, double*);

}  // namespace sprout::kernels::cpu
