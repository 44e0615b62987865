// 2-D pooling on the CPU over NCHW planes (float and double): max (with the argmax
// kept for backward), average (zero padding counted, PyTorch's count_include_pad
// default) and global average. `planes` is N*C; windows are k x k.
#pragma once
#include <cstdint>

#include "kernels/cpu/im2col.h"  // conv_out_size

namespace sprout::kernels::cpu {

// y [planes, Hout, Wout]; argmax holds the winning index h*W + w inside its plane.
template <class T>
void max_pool2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, T* y, int32_t* argmax);
// dx = scatter of dy to the argmax positions (dx is overwritten).
template <class T>
void max_pool2d_backward(const T* dy, const int32_t* argmax, int64_t planes, int64_t H,
                         int64_t W, int64_t Hout, int64_t Wout, T* dx);

// y = window sum / (k*k); padding counts as zeros.
template <class T>
void avg_pool2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t k,
                        int64_t stride, int64_t pad, T* y);
// dx overwritten.
template <class T>
void avg_pool2d_backward(const T* dy, int64_t planes, int64_t H, int64_t W, int64_t k,
                         int64_t stride, int64_t pad, T* dx);

// y[p] = mean of plane p's HW values; backward spreads dy[p] / HW over the plane.
template <class T>
void global_avg_pool_forward(const T* x, int64_t planes, int64_t HW, T* y);
template <class T>
void global_avg_pool_backward(const T* dy, int64_t planes, int64_t HW, T* dx);

}  // namespace sprout::kernels::cpu
