// Fused optimizer updates on the CPU over flat arrays (dense weights or a sparse
// layer's nnz values alike).
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// PyTorch SGD: g += wd w; buf = momentum buf + g; step = nesterov ? g + momentum buf : buf;
// w -= lr step. With momentum 0, buf may be null.
template <class T>
void sgd_update(T* w, const T* g, T* buf, int64_t n, T lr, T momentum, T weight_decay,
                bool nesterov);
// AdamW (decoupled decay): w -= lr wd w; m, v moments; bias corrections bc1 = 1 - b1^t,
// bc2 = 1 - b2^t; w -= lr (m / bc1) / (sqrt(v / bc2) + eps).
template <class T>
void adamw_update(T* w, const T* g, T* m, T* v, int64_t n, T lr, T beta1, T beta2, T eps,
                  T weight_decay, T bc1, T bc2);

}  // namespace sprout::kernels::cpu
