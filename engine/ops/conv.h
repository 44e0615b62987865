// 2-D convolution (NCHW, groups 1, dilation 1) with gradients. The dense path is
// im2col + GEMM on both devices; on CUDA builds with cuDNN, cuDNN can be chosen
// instead (set_cuda_conv_algo), which the parity tests check against the CPU.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// x [N, C, H, W], w [O, C, kh, kw], bias [O] or undefined -> [N, O, Hout, Wout] with
// Hout = (H + 2 padding - kh) / stride + 1 (likewise Wout).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1,
              int64_t padding = 0);

enum class ConvAlgo { Im2col, Cudnn };
// The algorithm CUDA convolutions use (Im2col by default). Choosing Cudnn on a build
// without cuDNN throws. CPU convolutions always use im2col.
void set_cuda_conv_algo(ConvAlgo algo);
ConvAlgo cuda_conv_algo();
// True when this build has cuDNN.
bool cudnn_compiled();

}  // namespace sprout::ops
