// Sparse convolution without unfolding on the GPU (float32), the twin of
// kernels/cpu/sparse_conv.h: the same phase-plane layouts and the same entry offsets,
// built on the device so a step never copies the structure to the host. The products
// themselves run through any registry kernel that declares offset_rows.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/sparse_conv.h"
#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

using cpu::ImplicitConv;

// x [nb, C, H, W] -> buf [in_size()]: zero-padded, phase-split, slack zeroed.
void conv_pack_input(const ImplicitConv& g, const float* x, float* buf, cudaStream_t s);
// yq [O, out_cols()] -> y [nb, O, Hout, Wout].
void conv_unpack_output(const ImplicitConv& g, const float* yq, float* y, cudaStream_t s);
// gy [nb, O, Hout, Wout] -> gyq [O, out_cols()], zero where no output is.
void conv_pack_output_grad(const ImplicitConv& g, const float* gy, float* gyq, cudaStream_t s);
// gy [nb, O, Hout, Wout] -> gyp [g_size()]: each plane shifted by K2 rows and columns
// into a zero border.
void conv_border_output_grad(const ImplicitConv& g, const float* gy, float* gyp, cudaStream_t s);
// dxq [dx_size()] -> dx [nb, C, H, W] (the padding dropped).
void conv_unpack_input_grad(const ImplicitConv& g, const float* dxq, float* dx, cudaStream_t s);

// The forward offsets off[j] of the nnz stored entries of W [O, C k k] (CSR whose
// row_ptr starts at 0): an offset depends on the entry's column alone.
void conv_entry_offsets(const ImplicitConv& g, int64_t nnz, const int32_t* col_idx, int32_t* off, cudaStream_t s);

// W^T per phase, equal to cpu::conv_transpose_offsets: a stable radix sort of the
// entries by slot ((kh % s) s + kw % s) (C + 1) + c keeps each slot in entry order.
// t_row_ptr has phases (C + 1) slots; off and perm have nnz entries.
size_t conv_transpose_offsets_workspace(const ImplicitConv& g, int64_t nnz);
void conv_transpose_offsets(const ImplicitConv& g, int64_t nnz, const int32_t* row_ptr, const int32_t* col_idx,
                            int32_t* t_row_ptr, int32_t* off, int32_t* perm, void* ws, size_t ws_bytes,
                            cudaStream_t s);

}  // namespace sprout::kernels::cuda
