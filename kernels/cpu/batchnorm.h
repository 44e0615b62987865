// Batch normalisation over NCHW on the CPU (float and double), PyTorch semantics:
// training normalises with the batch's biased variance and moves the running
// variance towards the unbiased one; evaluation uses the running statistics.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// Per channel c over the N*HW values x[n, c, :]: save_mean[c], save_invstd[c] =
// 1/sqrt(var_biased + eps); y = (x - mean) * invstd * gamma + beta. When running_mean
// and running_var are not null they move by `momentum` towards the batch mean and the
// unbiased variance. gamma / beta may be null (1 / 0); y may be null (statistics only).
template <class T>
void bn_forward_train(const T* x, const T* gamma, const T* beta, int64_t N, int64_t C,
                      int64_t HW, T eps, T momentum, T* running_mean, T* running_var, T* y,
                      T* save_mean, T* save_invstd);

// y from the running statistics; save_mean / save_invstd receive what was used, so the
// backward pass reads the same inputs in both modes.
template <class T>
void bn_forward_eval(const T* x, const T* gamma, const T* beta, const T* running_mean,
                     const T* running_var, int64_t N, int64_t C, int64_t HW, T eps, T* y,
                     T* save_mean, T* save_invstd);

// Gradients from dy. training: mean and invstd depend on x (the full formula);
// otherwise they are constants and dx = dy * gamma * invstd. Any output may be null.
template <class T>
void bn_backward(const T* x, const T* dy, const T* save_mean, const T* save_invstd,
                 const T* gamma, int64_t N, int64_t C, int64_t HW, bool training, T* dx,
                 T* dgamma, T* dbeta);

// bn_backward for y = relu(batch norm of x): dy passes where the normalised x (rebuilt
// as kernels/cpu/bn_act.h rebuilds it, so the same mask) is positive. The same bits as
// bn_act_mask followed by bn_backward, without writing the masked gradient.
template <class T>
void bn_relu_backward(const T* x, const T* dy, const T* save_mean, const T* save_invstd, const T* gamma,
                      const T* beta, int64_t N, int64_t C, int64_t HW, bool training, T* dx, T* dgamma,
                      T* dbeta);

}  // namespace sprout::kernels::cpu
