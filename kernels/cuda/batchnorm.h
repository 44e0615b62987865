// Batch normalisation on the GPU (float32), the twin of kernels/cpu/batchnorm.h:
// same arguments, same PyTorch semantics, statistics accumulated in double.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

void bn_forward_train(const float* x, const float* gamma, const float* beta, int64_t N,
                      int64_t C, int64_t HW, float eps, float momentum, float* running_mean,
                      float* running_var, float* y, float* save_mean, float* save_invstd,
                      cudaStream_t s);
void bn_forward_eval(const float* x, const float* gamma, const float* beta,
                     const float* running_mean, const float* running_var, int64_t N, int64_t C,
                     int64_t HW, float eps, float* y, float* save_mean, float* save_invstd,
                     cudaStream_t s);
void bn_backward(const float* x, const float* dy, const float* save_mean,
                 const float* save_invstd, const float* gamma, int64_t N, int64_t C, int64_t HW,
                 bool training, float* dx, float* dgamma, float* dbeta, cudaStream_t s);
// bn_backward for y = relu(batch norm of x) (beta may be null: shift 0), the twin of
// kernels/cpu/batchnorm.h's: the ReLU mask rebuilt inside, no masked gradient written.
void bn_relu_backward(const float* x, const float* dy, const float* save_mean, const float* save_invstd,
                      const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, bool training,
                      float* dx, float* dgamma, float* dbeta, cudaStream_t s);

}  // namespace sprout::kernels::cuda
