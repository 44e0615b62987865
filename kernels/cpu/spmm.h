// Sparse x dense products on the CPU (CSR and BSR), plus the dense transposes the
// layer ops use to put the batch dimension innermost. Layout choice: C = A B with B
// [K, n] row-major makes every stored entry of A one contiguous axpy of a B row into
// a register tile of C's row, so no atomics and no gathers; A^T B reads the CSC view.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/sparse_registry.h"

// Hot loops are compiled twice, for the x86-64-v2 baseline the build targets and for
// AVX2+FMA, and picked at run time; elsewhere only the baseline exists.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SPROUT_CPU_AVX2 1
#define SPROUT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define SPROUT_CPU_AVX2 0
#define SPROUT_TARGET_AVX2
#endif
#define SPROUT_ALWAYS_INLINE inline __attribute__((always_inline))

namespace sprout::kernels::cpu {

// A 32-byte vector of T (GCC/Clang vector extension): one AVX2 register, two SSE ones.
// Vectors go by reference: passing them by value would differ between the two ISAs.
template <class T> struct Vec32 { typedef T type __attribute__((vector_size(32))); };
template <class T> using vec_t = typename Vec32<T>::type;
template <class T> constexpr int kLanes = 32 / (int)sizeof(T);
template <class T>
SPROUT_ALWAYS_INLINE void load_vec(vec_t<T>& v, const T* p) { std::memcpy(&v, p, sizeof(v)); }
template <class T>
SPROUT_ALWAYS_INLINE void store_vec(T* p, vec_t<T>& v, bool accumulate) {
  if (accumulate) {
    vec_t<T> old;
    load_vec(old, p);
    v += old;
  }
  std::memcpy(p, &v, sizeof(v));
}

// True when this CPU runs the AVX2+FMA variants (checked once).
bool cpu_has_avx2();

// C_i = op(A) B_i for CSR A (a.block == 1); transpose_a needs a.t_* (CSC view).
template <class T> void spmm_csr(const SpmmArgs<T>& args);
// The same for BSR A (a.block > 1).
template <class T> void spmm_bsr(const SpmmArgs<T>& args);

// dst[c, r] = src[r, c] (+ bias[r] when bias is not null) for a rows x cols matrix;
// lds / ldd are the row strides. The bias add rides along so a layer's output needs
// no second pass.
template <class T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd,
               const T* bias = nullptr);
// out[r] = sum_c src[r, c]: a layer's bias gradient from its transposed output gradient.
template <class T>
void row_sums(int64_t rows, int64_t cols, const T* src, int64_t lds, T* out);

// Splits block rows [0, nrows) into `parts` ranges of about equal work (stored
// entries plus one per row, so empty rows still count): bounds[0..parts].
void balanced_row_split(const int32_t* row_ptr, int64_t nrows, int parts, int64_t* bounds);

}  // namespace sprout::kernels::cpu
