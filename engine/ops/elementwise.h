// Elementwise ops and reductions with their gradients: add, mul, scale, bias
// broadcast over dim 1, ReLU, sum, mean.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, double s);
// x: [N, C, ...], bias: [C]; adds bias[c] to every element of channel c.
Tensor add_bias(const Tensor& x, const Tensor& bias);
Tensor relu(const Tensor& x);
Tensor sum(const Tensor& x);   // scalar, shape [1]
Tensor mean(const Tensor& x);  // scalar, shape [1]

// In place, no autograd: a += b; y += alpha x; fill.
void add_(Tensor& a, const Tensor& b);
void axpy_(Tensor& y, double alpha, const Tensor& x);
void fill_(Tensor& t, double v);

}  // namespace sprout::ops
