// Shape ops with gradients: reshape (a view), to_dtype for tests.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

Tensor reshape(const Tensor& x, const Shape& shape);

}  // namespace sprout::ops
