// cuDNN convolution (float32, NCHW, full FP32 math so results match the CPU), an
// alternative to im2col + cuBLAS. On builds without cuDNN every call but
// cudnn_compiled() throws. Workspace memory comes from the caller.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

struct ConvGeometry {
  int64_t N, C, H, W;   // input
  int64_t O, kh, kw;    // filters
  int64_t stride, pad;  // both axes
};

enum class CudnnConvPass { Forward, BackwardData, BackwardFilter };

bool cudnn_compiled();
// Bytes of workspace the chosen algorithm of `pass` needs for this geometry.
size_t conv_cudnn_workspace_bytes(const ConvGeometry& g, CudnnConvPass pass);
// y = conv(x, w) (no bias).
void conv_cudnn_forward(const ConvGeometry& g, const float* x, const float* w, float* y,
                        void* workspace, size_t workspace_bytes, cudaStream_t s);
// dx = conv_transpose(dy, w) (overwritten).
void conv_cudnn_backward_data(const ConvGeometry& g, const float* w, const float* dy, float* dx,
                              void* workspace, size_t workspace_bytes, cudaStream_t s);
// dw = correlation of x and dy (overwritten).
void conv_cudnn_backward_filter(const ConvGeometry& g, const float* x, const float* dy,
                                float* dw, void* workspace, size_t workspace_bytes,
                                cudaStream_t s);

}  // namespace sprout::kernels::cuda
