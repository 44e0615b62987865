// The unfolding (im2col) that dense and sparse convolution share: the geometry, one
// workspace budget for a chunk of the batch's column buffers, and the chunk moves on
// tensors (images -> columns, columns added back into images, [O, b*P] <-> NCHW).
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/core/tensor.h"

namespace sprout::ops {

struct ConvGeometry {
  int64_t N, C, H, W, O, kh, kw, stride, pad, Hout, Wout;
  int64_t K() const { return C * kh * kw; }
  int64_t HW() const { return Hout * Wout; }
  int64_t CHW() const { return C * H * W; }
  bool pointwise() const { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }
};

// Upper bound on one chunk's column buffers, in bytes (64 MiB unless set).
size_t conv_workspace_bytes();
void set_conv_workspace_bytes(size_t bytes);
// Images per chunk so that `per_image_bytes` of workspace each stay within the budget;
// at least 1, at most n.
int64_t conv_chunk_images(int64_t n, size_t per_image_bytes);

// Images [n0, n0 + nb) of x [N, C, H, W] -> cols [K, nb * HW].
void unfold(const Tensor& x, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& cols);
// Images [n0, n0 + nb) of dx += the columns folded back (col2im).
void fold_add(const Tensor& cols, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& dx);
// yc [O, nb * HW] (+ bias[o] when defined) -> images [n0, n0 + nb) of y [N, O, HW].
void cnhw_to_nchw(const Tensor& yc, const Tensor& bias, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& y);
// Images [n0, n0 + nb) of y [N, O, HW] -> yc [O, nb * HW].
void nchw_to_cnhw(const Tensor& y, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& yc);

}  // namespace sprout::ops
