// Sparse convolution without unfolding, on the CPU. The zero-padded input is split
// into stride x stride phase planes, so that for every stored entry (o; c, kh, kw)
// the input pixels it meets along an output row are one contiguous run at a fixed
// element offset from the output position. A CSR whose column indices are those
// offsets, multiplied with B = the packed image and ldb = 1, is then the whole
// convolution: the SpMM and SDDMM kernels read a B row only as b + col * ldb, so
// overlapping rows cost nothing and no k*k-times larger column buffer is written.
// Output rows are computed at the phase plane's width; the few columns past Wout are
// dropped (forward) or fed zeros (weight gradient). The input gradient is the same
// product with W^T per phase against the output gradient in a zero-bordered plane.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// The geometry of one chunk of nb images. Planes are stored channel-major with the
// chunk's images stacked inside each channel (and phase), so one product runs over
// all nb images at once: a column q = image * plane + row * width + column.
struct ImplicitConv {
  int64_t C, H, W, O, k, s, p, Hout, Wout, nb;
  int64_t Hph, Wph;  // one phase plane of the padded input
  int64_t K2;        // (k - 1) / s: the largest kernel offset inside a phase plane
  int64_t Hg, Wg;    // the zero-bordered output-gradient plane of the input gradient

  static ImplicitConv make(int64_t C, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s, int64_t p, int64_t nb);
  int64_t phases() const { return s * s; }
  int64_t in_plane() const { return Hph * Wph; }
  int64_t g_plane() const { return Hg * Wg; }
  // Forward product columns (and the SDDMM's length): every phase-plane position.
  int64_t out_cols() const { return nb * in_plane(); }
  // The packed input [C][phases][nb][Hph][Wph], then slack for the last plane's
  // dropped positions.
  int64_t in_size() const { return C * phases() * out_cols() + (K2 + 1) * Wph + 8; }
  // Input-gradient product columns per phase.
  int64_t dx_cols() const { return nb * g_plane(); }
  // The bordered output gradient [O][nb][Hg][Wg] and its slack.
  int64_t g_size() const { return O * dx_cols() + (K2 + 1) * Wg + 8; }
  int64_t dx_size() const { return C * phases() * dx_cols(); }  // [C][phases][nb][Hg][Wg]
  // False when an offset would not fit an int32 column index.
  bool fits_int32() const;
};

// x [nb, C, H, W] -> buf [in_size()]: zero-padded, phase-split, slack zeroed.
template <class T> void conv_pack_input(const ImplicitConv& g, const T* x, T* buf);
// yq [O, out_cols()] -> y [nb, O, Hout, Wout].
template <class T> void conv_unpack_output(const ImplicitConv& g, const T* yq, T* y);
// gy [nb, O, Hout, Wout] -> gyq [O, out_cols()], zero where no output is.
template <class T> void conv_pack_output_grad(const ImplicitConv& g, const T* gy, T* gyq);
// gy [nb, O, Hout, Wout] -> gyp [g_size()]: each plane shifted by K2 rows and
// columns into a zero border.
template <class T> void conv_border_output_grad(const ImplicitConv& g, const T* gy, T* gyp);
// dxq [dx_size()] -> dx [nb, C, H, W] (the padding dropped).
template <class T> void conv_unpack_input_grad(const ImplicitConv& g, const T* dxq, T* dx);

// The forward offsets: off[j] for each stored entry j of W [O, C k k] (CSR).
void conv_entry_offsets(const ImplicitConv& g, const int32_t* row_ptr, const int32_t* col_idx, int32_t* off);
// W^T per phase: rows are input channels; phase ph's row c holds the entries
// [row_ptr[ph (C + 1) + c], row_ptr[ph (C + 1) + c + 1]) of off / perm (absolute
// positions, perm[e] the entry's index in W's CSR). row_ptr has phases (C + 1) slots.
void conv_transpose_offsets(const ImplicitConv& g, const int32_t* row_ptr, const int32_t* col_idx,
                            int32_t* t_row_ptr, int32_t* off, int32_t* perm);

}  // namespace sprout::kernels::cpu
