// im2col / col2im for convolutions on either device, over chunks of the batch.
#include "engine/ops/im2col.h"

#include <algorithm>

#include "engine/core/dispatch.h"
#include "kernels/cpu/im2col.h"

namespace sprout::ops {

namespace kc = kernels::cpu;

namespace {
size_t g_workspace_bytes = size_t(64) << 20;
}  // namespace

size_t conv_workspace_bytes() { return g_workspace_bytes; }
void set_conv_workspace_bytes(size_t bytes) { g_workspace_bytes = bytes; }

int64_t conv_chunk_images(int64_t n, size_t per_image_bytes) {
  const int64_t per = std::max<int64_t>(1, (int64_t)per_image_bytes);
  return std::max<int64_t>(1, std::min<int64_t>(n, (int64_t)g_workspace_bytes / per));
}

void unfold(const Tensor& x, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& cols) {
  const int64_t off = n0 * g.CHW();
  if (x.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::im2col_batch(x.data<float>() + off, nb, g.C, g.H, g.W, g.kh, g.kw, g.stride,
                                               g.pad, cols.data<float>(), stream()));
    return;
  }
  dispatch_float(x.dtype(), "unfold", [&](auto tag) {
    using T = decltype(tag);
    kc::im2col_batch<T>(x.data<T>() + off, nb, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.pad, cols.data<T>());
  });
}

void fold_add(const Tensor& cols, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& dx) {
  const int64_t off = n0 * g.CHW();
  if (dx.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::col2im_batch(cols.data<float>(), nb, g.C, g.H, g.W, g.kh, g.kw, g.stride,
                                               g.pad, dx.data<float>() + off, stream()));
    return;
  }
  dispatch_float(dx.dtype(), "fold", [&](auto tag) {
    using T = decltype(tag);
    kc::col2im_batch<T>(cols.data<T>(), nb, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.pad, dx.data<T>() + off);
  });
}

void cnhw_to_nchw(const Tensor& yc, const Tensor& bias, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& y) {
  const int64_t off = n0 * g.O * g.HW();
  if (y.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::cnhw_to_nchw(yc.data<float>(), bias.defined() ? bias.data<float>() : nullptr,
                                               nb, g.O, g.HW(), y.data<float>() + off, stream()));
    return;
  }
  dispatch_float(y.dtype(), "cnhw_to_nchw", [&](auto tag) {
    using T = decltype(tag);
    kc::cnhw_to_nchw<T>(yc.data<T>(), bias.defined() ? bias.data<T>() : (const T*)nullptr, nb, g.O, g.HW(),
                        y.data<T>() + off);
  });
}

void nchw_to_cnhw(const Tensor& y, const ConvGeometry& g, int64_t n0, int64_t nb, Tensor& yc) {
  const int64_t off = n0 * g.O * g.HW();
  if (y.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::nchw_to_cnhw(y.data<float>() + off, nb, g.O, g.HW(), yc.data<float>(), stream()));
    return;
  }
  dispatch_float(y.dtype(), "nchw_to_cnhw", [&](auto tag) {
    using T = decltype(tag);
    kc::nchw_to_cnhw<T>(y.data<T>() + off, nb, g.O, g.HW(), yc.data<T>());
  });
}

}  // namespace sprout::ops
