// im2col / col2im on the CPU: unfold image patches into a column matrix so a
// convolution becomes one GEMM (dense here, SpMM for sparse convolution), and fold
// column gradients back. Also the layout shuffles between a GEMM's [O, N*HW] result
// and NCHW. Images are NCHW, square kernels, zero padding, dilation 1.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// Output extent of a convolution or pooling window along one axis.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// One image [C, H, W] -> cols [C*kh*kw, Hout*Wout]; row r = (c*kh + i)*kw + j holds
// img[c, ho*stride - pad + i, wo*stride - pad + j] (0 outside the image) at column
// ho*Wout + wo. Parallel over channels.
template <class T>
void im2col(const T* img, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
            int64_t stride, int64_t pad, T* cols);

// The adjoint of im2col: img[C, H, W] += fold(cols). Accumulates; zero img first for
// a plain fold.
template <class T>
void col2im(const T* cols, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
            int64_t stride, int64_t pad, T* img);

// A batch of N images [N, C, H, W] -> cols [C*kh*kw, N*Hout*Wout]; image n occupies
// columns [n*Hout*Wout, (n+1)*Hout*Wout). One GEMM then covers the whole batch.
// Parallel over (image, channel).
template <class T>
void im2col_batch(const T* imgs, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, T* cols);

// The adjoint of im2col_batch: imgs[N, C, H, W] += fold(cols). Accumulates.
template <class T>
void col2im_batch(const T* cols, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad, T* imgs);

// src [O, N*HW] (a GEMM result over a batch of columns) -> dst [N, O, HW], adding
// bias[o] when bias is not null.
template <class T>
void cnhw_to_nchw(const T* src, const T* bias, int64_t N, int64_t O, int64_t HW, T* dst);

// src [N, O, HW] -> dst [O, N*HW] (the inverse shuffle, for output gradients).
template <class T>
void nchw_to_cnhw(const T* src, int64_t N, int64_t O, int64_t HW, T* dst);

}  // namespace sprout::kernels::cpu
