// Sparse x dense products on the CPU (CSR and BSR), plus the dense transposes the
// layer ops use to put the batch dimension innermost. Layout choice: C = A B with B
// [K, n] row-major makes every stored entry of A one contiguous axpy of a B row into
// a register tile of C's row, so no atomics and no gathers; A^T B reads the CSC view.
#pragma once
#include <cstdint>

#include "kernels/cpu/sparse_registry.h"

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

// True when this CPU runs the AVX2+FMA variants (checked once).
bool cpu_has_avx2();

// C_i = op(A) B_i for CSR A (a.block == 1); transpose_a needs a.t_* (CSC view).
template <class T> void spmm_csr(const SpmmArgs<T>& args);
// The same for BSR A (a.block > 1).
template <class T> void spmm_bsr(const SpmmArgs<T>& args);

// dst[c, r] = src[r, c] for a rows x cols matrix; lds / ldd are the row strides.
template <class T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd);

// Splits block rows [0, nrows) into `parts` ranges of about equal work (stored
// entries plus one per row, so empty rows still count): bounds[0..parts].
void balanced_row_split(const int32_t* row_ptr, int64_t nrows, int parts, int64_t* bounds);

}  // namespace sprout::kernels::cpu
