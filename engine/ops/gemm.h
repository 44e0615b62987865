// Dense matrix products: matmul and the fully connected layer, with gradients.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// [m, k] x [k, n] -> [m, n]
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, in], w [out, in], bias [out] or undefined -> [N, out] = x w^T + bias
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);

// Raw product without autograd, for kernels of other ops: C = op(A) op(B) (+ beta C).
void gemm_into(bool trans_a, bool trans_b, const Tensor& a, const Tensor& b, Tensor& c,
               double beta = 0.0);

}  // namespace sprout::ops
